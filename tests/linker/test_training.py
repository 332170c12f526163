"""The match model learnt from records, as Splink learns it, and what it buys."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine
from typer.testing import CliRunner

from bench.corruptions import as_csv, harsh_sample
from ehx.cli import app
from ehx.database import migrate, open_engine
from ehx.linker.compare import PersonRecord, compare
from ehx.linker.evaluate import evaluate_sample
from ehx.linker.model import DEFAULT, LinkModel
from ehx.linker.service import Linker
from ehx.linker.store import LinkedMention, LinkStore
from ehx.linker.training import train
from tests.helpers import cli_environment
from tests.people import registered

SAMPLE = harsh_sample(5000, seed=1)


@pytest.fixture(scope="module")
def learnt() -> LinkModel:
    return train([item.record for item in SAMPLE]).model


def test_em_learns_what_one_persons_records_look_like(learnt: LinkModel) -> None:
    m, u = learnt.m, learnt.u
    # Most copies keep their names and birth date; a nickname or a typo is rarer.
    assert m["given_name"]["exact"] > m["given_name"]["variant"] > m["given_name"]["similar"]
    assert m["date_of_birth"]["exact"] > 0.8 > m["date_of_birth"]["one_typo"]
    # A move is common among one person's records (the generator moves 15%); among
    # different people an exact postcode is rare.
    assert 0.1 < m["postcode"]["different"] < 0.35 and u["postcode"]["exact"] < 0.01
    # Every level says more for a match than against it, down the order, per field.
    for levels in (("exact", "close", "different"), ("exact", "one_typo", "different")):
        field = "given_name" if "close" in levels else "date_of_birth"
        weights = [learnt.weight(field, level) for level in levels]
        assert weights == sorted(weights, reverse=True), (field, weights)
    assert "learnt from 10,481 records" in learnt.source


def test_a_common_family_name_weighs_less_than_a_rare_one(learnt: LinkModel) -> None:
    common = PersonRecord("Amina", "Khan", None, None)
    rare = PersonRecord("Amina", "Kirkharmore", None, None)
    assert compare(rare, rare, learnt).weight > compare(common, common, learnt).weight + 3
    # The hand-set model has one weight for every exact name.
    assert compare(rare, rare, DEFAULT).weight == compare(common, common, DEFAULT).weight


def test_the_learnt_model_finds_the_harsh_samples_pairs_at_the_goal(learnt: LinkModel) -> None:
    before = evaluate_sample(SAMPLE)
    after = evaluate_sample(SAMPLE, model=learnt)
    assert after.scores.precision >= 0.99 and after.scores.recall >= 0.95, after.as_dict()
    assert after.scores.recall > before.scores.recall + 0.05


def test_the_linker_weighs_new_records_with_the_latest_stored_model(
    sqlite_engine: Engine, learnt: LinkModel
) -> None:
    store = LinkStore(sqlite_engine)
    assert Linker.open(store).identities.model == DEFAULT
    store.save_model(learnt, "sw-7", datetime.now(UTC))
    reopened = Linker.open(store).identities
    assert reopened.model == learnt and reopened.thresholds == learnt.policy
    assert LinkModel.from_dict(learnt.as_dict()) == learnt


def _on_file(engine: Engine, first: int, last: int) -> None:
    """Records of the harsh sample, stored as the linker stores mentions."""
    LinkStore(engine).save(
        [
            LinkedMention(
                event_id=f"e{n}",
                subject_index=0,
                person_id=f"p{n:08d}",
                family_id=f"f{n:08d}",
                band="new",
                weight=None,
                given_name=item.record.given_name,
                family_name=item.record.family_name,
                date_of_birth=item.record.date_of_birth,
                postcode=item.record.postcode,
                identifiers=[],
                role="subject",
                household=None,
                related=False,
            )
            for n, item in enumerate(SAMPLE[first:last], first)
        ],
        [],
    )


def test_the_mash_trains_the_model_from_the_records_on_file_and_evaluate_uses_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cli_environment(monkeypatch, tmp_path, "127.0.0.1:9")  # no broker needed
    engine = open_engine()
    migrate(engine)
    registered(engine, "sw-7", "mash")
    registered(engine, "ew-7", "early_help")
    run = CliRunner()
    _on_file(engine, 0, 500)
    too_few = run.invoke(app, ["links", "train", "--by", "sw-7"])
    assert too_few.exit_code == 2 and "needs 1,000 at least" in too_few.output
    _on_file(engine, 500, 6000)
    not_mash = run.invoke(app, ["links", "train", "--by", "ew-7"])
    assert not_mash.exit_code == 2 and LinkStore(engine).latest_model() == DEFAULT

    trained = run.invoke(app, ["links", "train", "--by", "sw-7", "--json"])
    assert trained.exit_code == 0, trained.output
    body = json.loads(trained.stdout)
    assert body["policy"]["upper"] == 16.5 and body["frequencies"]["family_name"] > 10
    stored = LinkStore(engine).latest_model()
    assert stored != DEFAULT and "learnt from" in stored.source

    sample = tmp_path / "labelled.csv"
    sample.write_text(as_csv(SAMPLE[:3000]), encoding="utf-8")
    measured = run.invoke(app, ["links", "evaluate", "--records", str(sample), "--json"])
    assert measured.exit_code == 0, measured.output
    assert json.loads(measured.stdout)["model"] == stored.source
    engine.dispose()
