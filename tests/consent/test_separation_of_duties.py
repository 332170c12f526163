"""Separation of duties: a MASH manager countersigns or reverses an override, never their
own assertion's; consent is withdrawn by the organisation that recorded it, the MASH or
the data protection officer; the commands check the name given against the accounts."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ehx.broker.topics import Topic
from ehx.cli import app
from ehx.consent import ConsentRecord, HarmAssertion, Outcome
from ehx.consent.auditing import change_record
from ehx.consent.engine import ConsentEngine
from ehx.consent.keys import DataKeyStore
from ehx.consent.recording import DPO, review_refusal, withdrawal_refusal
from ehx.consent.store import ConsentStore
from ehx.database import migrate, open_engine
from ehx.organisations.people import Accounts, Role
from ehx.schemas.vocabulary import Recipient
from tests.consent.fakes import AMINA, FAMILY, KHANS, family_consent
from tests.helpers import cli_environment, read_json
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


def test_withdrawal_rules_name_who_may() -> None:
    record = family_consent((Recipient.SCHOOLS,)).model_copy(
        update={"recorded_by_agency": Recipient.SCHOOLS, "recorded_by_organisation": "103512"}
    )
    assert withdrawal_refusal(record, None) is None  # the data protection officer
    assert withdrawal_refusal(record, Recipient.MASH) is None
    assert withdrawal_refusal(record, Recipient.SCHOOLS, "103512") is None
    why = withdrawal_refusal(record, Recipient.SCHOOLS, "103377")
    assert why is not None and "(schools 103512)" in why and "data protection officer" in why
    assert withdrawal_refusal(record, Recipient.HEALTH, "RQ3") is not None


def test_the_data_protection_officer_withdraws_consent_and_the_ledger_says_so(
    override: str, kafka_bootstrap: str
) -> None:
    """The ``override`` fixture's database, with a consent the school recorded."""
    engine = open_engine()
    record = family_consent((Recipient.SCHOOLS,)).model_copy(
        update={"recorded_by_agency": Recipient.SCHOOLS, "recorded_by_organisation": "103512"}
    )
    ConsentStore(engine).save_record(record)
    accounts = Accounts(engine)
    accounts.add("dpo-1", Role.DPO, PASSWORD)
    accounts.add("audit-1", Role.AUDITOR, PASSWORD)
    engine.dispose()
    runner = CliRunner()

    def withdraw(by: str) -> str:
        result = runner.invoke(app, ["consent", "withdraw", str(record.consent_id), "--by", by])
        return result.output + (str(result.exception) if result.exception else "")

    assert "not an active account that withdraws consent" in withdraw("audit-1")
    assert "not an active account that withdraws consent" in withdraw("nobody")
    assert "withdrawn" in withdraw("dpo-1")
    [(_, body)] = asyncio.run(
        read_json(
            kafka_bootstrap,
            Topic.CONSENT.value,
            lambda b: (
                b.get("consent_id") == str(record.consent_id) and b.get("state") == "withdrawn"
            ),
            count=1,
        )
    )
    published = ConsentRecord.model_validate(body)
    assert (published.withdrawn_by, published.withdrawn_by_role) == ("dpo-1", DPO)
    entry = change_record(published)
    assert (entry.actor, entry.role) == ("dpo-1", "data_protection_officer")
