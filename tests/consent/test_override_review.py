"""Separation of duties on an override: a MASH manager countersigns or reverses it, and
never their own assertion's; a screener, an unknown name or a disabled account cannot."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ehx.cli import app
from ehx.consent import HarmAssertion, Outcome
from ehx.consent.engine import ConsentEngine
from ehx.consent.keys import DataKeyStore
from ehx.consent.recording import review_refusal
from ehx.consent.store import ConsentStore
from ehx.console.accounts import Accounts, Role
from ehx.database import migrate, open_engine
from ehx.schemas.vocabulary import Recipient
from tests.consent.fakes import AMINA, FAMILY, KHANS
from tests.helpers import cli_environment
from tests.records import NOW

pytestmark = pytest.mark.kafka
PASSWORD = "correct horse battery staple"


def test_only_a_mash_manager_reviews_and_never_their_own_assertion() -> None:
    assert review_refusal("sw-1", "mash_screener", set()) is not None
    assert review_refusal("nobody", None, set()) is not None
    assert "another MASH manager" in (review_refusal("mgr-1", "mash_manager", {"mgr-1"}) or "")
    assert review_refusal("mgr-2", "mash_manager", {"mgr-1"}) is None


@pytest.fixture
def override(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kafka_bootstrap: str) -> str:
    """The Khans on file with an override the MASH manager mgr-1 asserted; its id."""
    cli_environment(monkeypatch, tmp_path, kafka_bootstrap)
    engine = open_engine()
    migrate(engine)
    store = ConsentStore(engine)
    from ehx.consent import load_policy

    consent = ConsentEngine(load_policy(), DataKeyStore(engine), store.load_registry(), store)
    store.save(consent.on_events(KHANS, NOW))
    assertion = HarmAssertion(
        person_id=AMINA,
        family_id=FAMILY,
        asserted_by="mgr-1",
        asserted_by_agency=Recipient.MASH,
        reason="the children were present and the knife was in the kitchen",
        asserted_at=NOW + timedelta(hours=1),
    )
    store.save_record(assertion)
    out = consent.on_record(assertion, NOW + timedelta(hours=1))
    consent.vault.flush()
    store.save(out)
    accounts = Accounts(engine)
    accounts.add("mgr-1", Role.MANAGER, PASSWORD)
    accounts.add("mgr-2", Role.MANAGER, PASSWORD)
    accounts.add("sw-1", Role.SCREENER, PASSWORD)
    accounts.add("mgr-gone", Role.MANAGER, PASSWORD)
    accounts.disable("mgr-gone")
    [found] = [d for d in store.decisions(outcome=Outcome.OVERRIDE)][:1]
    engine.dispose()
    return str(found["decision_id"])


def test_the_review_command_holds_to_the_separation_of_duties(override: str) -> None:
    runner = CliRunner()

    def review(by: str) -> str:
        result = runner.invoke(app, ["consent", "review", override, "--by", by])
        return result.output + (str(result.exception) if result.exception else "")

    assert "not a MASH manager's active account" in review("sw-1")
    assert "not a MASH manager's active account" in review("mgr-gone")
    assert "not a MASH manager's active account" in review("nobody")
    assert "asserted this harm" in review("mgr-1")
    assert "countersigned" in review("mgr-2")
