"""Linking measured on a labelled sample, as a council checks it on its own records."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bench.corruptions import as_csv, harsh_sample
from ehx.cli import app
from ehx.linker.evaluate import evaluate_sample, pair_scores, read_sample

HEADER = "record_id,given_name,family_name,date_of_birth,postcode,cluster\n"


def test_pair_scores_count_pairs_from_cluster_sizes() -> None:
    scores = pair_scores(["a", "a", "a", "b"], ["x", "x", "y", "y"])
    # True pairs: 3 (a-a). Predicted: 2 (x-x, y-y). Right: 1 (the x-x pair, both a).
    assert (scores.true_pairs, scores.predicted_pairs) == (3, 2)
    assert (scores.precision, scores.recall) == (0.5, 1 / 3)
    assert scores.f1 == pytest.approx(2 * 0.5 * (1 / 3) / (0.5 + 1 / 3))


def test_a_sample_is_linked_and_scored_against_its_labels() -> None:
    sample, problems = read_sample(
        HEADER
        + "1,Amina,Khan,1990-03-14,B11 4AA,amina\n"
        + "2,Amina,Khan,1990-03-14,b114aa,amina\n"  # the same postcode, written otherwise
        + "3,Amina,Khan,,,amina\n"  # nothing but the name: not enough to link
        + "4,Yusuf,Khan,2014-06-02,B11 4AA,yusuf\n"
        + "5,Maryam,Khan,2014-06-02,B11 4AA,maryam\n"  # his twin: kept apart
        + "6,Jose,Garcia,1985-07-01,28013,jose\n"  # a Spanish postcode, kept as written
    )
    assert not problems
    assert sample[2].record.date_of_birth is None and sample[2].record.postcode == ""
    assert sample[5].record.postcode == "28013"
    result = evaluate_sample(sample)
    # Three true pairs (the three Aminas); the linker joins 1 and 2 only, rightly.
    assert (result.scores.true_pairs, result.scores.predicted_pairs) == (3, 1)
    assert (result.scores.precision, result.scores.recall) == (1.0, 1 / 3)
    assert result.records == 6 and result.clusters == 4
    assert result.pair_completeness == 1.0  # the name-only Amina still shares a block


def test_every_wrong_line_is_refused_with_its_line_and_reason() -> None:
    sample, problems = read_sample(
        HEADER
        + "1,Amina,Khan,1990-03-14,B11 4AA,amina\n"
        + "1,Amina,Khan,1990-03-14,B11 4AA,amina\n"
        + "2,Amina,Khan,14/03/1990,B11 4AA,amina\n"
        + "3,Amina,Khan,1990-03-14,B11 4AA,\n"
        + ",Amina,Khan,1990-03-14,B11 4AA,amina\n"
        + "4,Amina,Khan,1990-03-14\n"
    )
    assert [str(p) for p in problems] == [
        "line 3: record_id '1' is already on line 2",
        "line 4: date_of_birth '14/03/1990' is not an ISO 8601 date (YYYY-MM-DD)",
        "line 5: cluster is empty: each record must name its true person",
        "line 6: record_id is empty",
        "line 7: 4 fields, expected 6",
    ]
    assert len(sample) == 1
    _, wrong_header = read_sample("id,name,dob\n1,Amina,1990-03-14\n")
    assert [p.line for p in wrong_header] == [1]
    assert "record_id,given_name" in wrong_header[0].reason


def test_the_command_reads_a_councils_sample_and_refuses_a_wrong_one(tmp_path: Path) -> None:
    labelled = tmp_path / "labelled.csv"
    labelled.write_text(as_csv(harsh_sample(200, seed=5)), encoding="utf-8")
    result = CliRunner().invoke(app, ["links", "evaluate", "--records", str(labelled), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert {"precision", "recall", "f1", "review_items", "pair_completeness"} <= set(report)
    assert 0 < report["recall"] <= 1 and report["records"] > 200

    broken = tmp_path / "broken.csv"
    broken.write_text(HEADER + "1,Amina,Khan,1990-13-01,B11 4AA,amina\n", encoding="utf-8")
    refused = CliRunner().invoke(app, ["links", "evaluate", "--records", str(broken)])
    assert refused.exit_code == 2
    assert "line 2: date_of_birth '1990-13-01' is not an ISO 8601 date" in refused.stderr
    latin = tmp_path / "latin.csv"
    latin.write_bytes(HEADER.encode() + "1,José,García,,,j\n".encode("latin-1"))
    not_utf8 = CliRunner().invoke(app, ["links", "evaluate", "--records", str(latin)])
    assert not_utf8.exit_code == 2 and "not UTF-8" in not_utf8.stderr


def test_the_same_sample_gives_the_same_figures_whatever_the_hash_seed(tmp_path: Path) -> None:
    """Sets iterate in a different order under each PYTHONHASHSEED: nothing may hang on it."""
    labelled = tmp_path / "labelled.csv"
    labelled.write_text(as_csv(harsh_sample(1500, seed=9)), encoding="utf-8")
    command = [sys.executable, "-m", "ehx", "links", "evaluate", "--records", str(labelled)]
    reports = {
        subprocess.run(
            [*command, "--json"],
            env=os.environ | {"PYTHONHASHSEED": str(seed)},
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for seed in (0, 1, 2)
    }
    assert len(reports) == 1, reports
