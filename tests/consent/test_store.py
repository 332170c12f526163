"""The consent ledger contract: the SQL store (SQLite and PostgreSQL) and the in-memory fake
answer the engine alike, and the store brings the registry back after a restart."""

from __future__ import annotations

from datetime import timedelta

import orjson
import pytest
from sqlalchemy import Engine, select

from ehx.consent import (
    ConsentRecord,
    ConsentRegistry,
    HarmAssertion,
    Outcome,
    OverrideReview,
    ReviewOutcome,
    load_policy,
)
from ehx.consent.engine import ConsentEngine, ConsentLedger, Outbox
from ehx.consent.keys import DataKeyStore
from ehx.consent.memory import MemoryKeyVault, MemoryLedger
from ehx.consent.store import ConsentStore
from ehx.database import consent_events
from ehx.schemas.vocabulary import Recipient, Restriction
from tests.consent.fakes import linked_khans
from tests.records import NOW

KHANS = linked_khans()
FAMILY = KHANS[0].subjects[0].family_id or ""
PERSON = KHANS[0].subjects[0].person_id or ""


@pytest.fixture(params=["memory", "sql"])
def ledger(request: pytest.FixtureRequest, engine: Engine) -> ConsentLedger:
    return MemoryLedger() if request.param == "memory" else ConsentStore(engine)


def test_the_ledger_contract(ledger: MemoryLedger | ConsentStore) -> None:
    engine = ConsentEngine(load_policy(), MemoryKeyVault(), ConsentRegistry(), ledger)
    out = engine.on_events(KHANS[:4], NOW)
    ledger.save(out)
    ids = [str(e.event_id) for e in KHANS]
    assert ledger.decided(ids) == set(ids[:4])
    held = ledger.family_events({FAMILY})
    assert held == sorted(KHANS[:4], key=lambda e: (e.occurred_at, str(e.event_id)))
    assert FAMILY in ledger.families_of(PERSON)
    assert ledger.families_on_file({FAMILY, "f-never-seen"}) == {FAMILY}
    decision = out.decisions[0]
    assert ledger.latest([decision.decision_id, "nope"]) == {decision.decision_id: decision}
    # A later revision replaces the earlier one.
    newer = decision.model_copy(update={"revision": 2, "reason": "again"})
    ledger.save(Outbox(decisions=[newer]))
    assert ledger.latest([decision.decision_id])[decision.decision_id].revision == 2
    # Replays are recognised, not decided again.
    assert engine.on_events(KHANS[:4], NOW).replays == 4
    # Who is restricted is remembered, and a second marking changes nothing.
    assert ledger.restricted([PERSON]) == set()
    ledger.save(Outbox(restricted={PERSON: Restriction.RESTRICTED}))
    ledger.save(Outbox(restricted={PERSON: Restriction.VERY_RESTRICTED}))
    assert ledger.restricted([PERSON, "p-never-seen"]) == {PERSON}


def test_an_event_on_file_keeps_the_bytes_it_arrived_as(engine: Engine) -> None:
    # What the agency's signature covers, a field this version does not know included,
    # so the event on file can be verified again as it came.
    store = ConsentStore(engine)
    event = KHANS[0]
    wire = orjson.dumps({**orjson.loads(event.to_bytes()), "added_by_a_later_version": 1})
    consent = ConsentEngine(load_policy(), MemoryKeyVault(), ConsentRegistry(), store)
    store.save(consent.on_events([event], NOW), {str(event.event_id): wire})
    with engine.connect() as connection:
        bodies = connection.execute(
            select(consent_events.c.body).where(consent_events.c.event_id == str(event.event_id))
        ).scalars()
        assert {body.encode() for body in bodies} == {wire}
    assert store.family_events({FAMILY}) == [event]


def test_a_restarted_service_knows_every_consent_assertion_and_review(engine: Engine) -> None:
    store = ConsentStore(engine)
    consent = ConsentRecord.model_validate(
        {
            "state": "granted",
            "subject_kind": "family",
            "subject_id": FAMILY,
            "given_by": PERSON,
            "giver": "parent",
            "recorded_by": "ew-1",
            "recorded_by_agency": "early_help",
            "recipients": ["schools"],
            "categories": ["housing"],
            "purpose": "early_help_assessment",
            "valid_from": NOW.isoformat(),
            "recorded_at": NOW.isoformat(),
        }
    )
    assertion = HarmAssertion(
        person_id=PERSON,
        family_id=FAMILY,
        asserted_by="dsl-1",
        asserted_by_agency=Recipient.SCHOOLS,
        reason="A disclosure this morning that needs the MASH.",
        asserted_at=NOW,
    )
    review = OverrideReview(
        override_id="e:mash", outcome=ReviewOutcome.REVERSED, reviewed_by="m-1", reviewed_at=NOW
    )
    for record in (consent, assertion, review):
        store.save_record(record)
    later = consent.withdraw("ew-1", NOW + timedelta(hours=1))
    store.save_record(later)
    registry = ConsentStore(engine).load_registry()
    assert registry.consents == {later.record_id: later}
    assert list(registry.assertions.values()) == [assertion]
    assert registry.reversed_overrides == frozenset({"e:mash"})
    assert [r.record_id for r in store.records_about(FAMILY)] == [
        assertion.record_id,
        later.record_id,
    ]


def test_destroyed_keys_stay_destroyed_and_a_new_version_follows(engine: Engine) -> None:
    keys = DataKeyStore(engine)
    key_id, key = keys.current("schools", PERSON, "agency/2026")
    assert keys.current("schools", PERSON, "agency/2026") == (key_id, key)
    assert keys.destroy("schools", PERSON, "consent withdrawn") == [key_id]
    reopened = DataKeyStore(engine)
    assert reopened.get(key_id) is None
    new_id, new_key = reopened.current("schools", PERSON, "agency/2026")
    assert new_id.endswith(":v2") and new_key != key
    assert reopened.destroy("schools", PERSON, "again") == [new_id]


def test_a_sweep_destroys_one_periods_keys_and_the_sealing_service_stops_using_them(
    engine: Engine,
) -> None:
    sealing = DataKeyStore(engine)  # the consent service's, with its keys cached
    old_id, _ = sealing.current("mash", PERSON, "mash/2019")
    kept_id, kept = sealing.current("mash", PERSON, "mash/2026")
    sealing.flush()
    sweep = DataKeyStore(engine)  # the DPO's command, another process
    assert sweep.periods() == {"mash/2019", "mash/2026"}
    assert sweep.destroy_periods(["mash/2019"], "retention: mash, 2019") == [old_id]
    assert sweep.periods() == {"mash/2026"}
    sealing.prefetch([PERSON])  # the service's next batch
    assert sealing.get(old_id) is None
    again_id, _ = sealing.current("mash", PERSON, "mash/2019")  # a late 2019 record
    assert again_id != old_id
    assert sealing.current("mash", PERSON, "mash/2026") == (kept_id, kept)


@pytest.mark.parametrize("on_file", [2, 1, 0], ids=["two on file", "one on file", "none"])
def test_a_rule_that_looks_back_sees_the_history_on_file_and_in_the_batch(
    ledger: MemoryLedger | ConsentStore, on_file: int
) -> None:
    # The third missing episode in 90 days is significant harm, whether the first two were
    # decided in earlier batches or arrive in this one (a family new to the ledger).
    from tests.consent.fakes import missing

    episodes = [missing(days) for days in (60, 30, 0)]
    engine = ConsentEngine(load_policy(), MemoryKeyVault(), ConsentRegistry(), ledger)
    if on_file:
        ledger.save(engine.on_events(episodes[:on_file], NOW))
    out = engine.on_events(episodes[on_file:], NOW)
    latest = {d.event_id: d for d in out.decisions if d.recipient is Recipient.MASH}
    third = latest[episodes[-1].event_id]
    assert third.rule == "repeated_missing_episodes"
    assert third.reason.startswith("significant harm: ")
    # The earlier episodes, on file or in the batch, are its evidence: once the third
    # fires, the MASH is given them too, as overrides under the same rule.
    for earlier in episodes[:-1]:
        decided = latest[earlier.event_id]
        assert (decided.outcome, decided.rule) == (Outcome.OVERRIDE, "repeated_missing_episodes")
        assert str(earlier.event_id) in decided.evidence_event_ids
