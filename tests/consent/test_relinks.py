"""Relinks: an event linked to the wrong person is taken back from every recipient that
got it under that identity, and decided afresh under the right one."""

from __future__ import annotations

import uuid
from datetime import timedelta

from ehx.consent.decide import Outcome
from ehx.schemas import CanonicalEvent
from ehx.schemas.links import Relink, SubjectLink
from ehx.schemas.views import Retraction, ShareView
from ehx.schemas.vocabulary import Recipient
from tests.consent.fakes import FAMILY, KHANS, family_consent, memory_engine
from tests.records import NOW

#: Amina's emergency department attendance, which (in this story) was another woman's.
ATTENDANCE = next(e for e in KHANS if e.payload.kind == "health.encounter")
STRANGER, HER_FAMILY = "p09999999", "f09999999"


def split_off(event: CanonicalEvent = ATTENDANCE) -> Relink:
    return Relink(
        event_id=event.event_id,
        subjects=tuple(
            SubjectLink(index=i, person_id=STRANGER, family_id=HER_FAMILY, match_confidence=1.0)
            for i, _ in enumerate(event.subjects)
        ),
        cause="split:p09999999~p00000001",
        decided_at=NOW,
    )


def test_a_split_retracts_from_every_holder_and_decides_again_under_the_right_family() -> None:
    engine, ledger, _ = memory_engine()
    ledger.save(engine.on_events(KHANS, NOW))
    ledger.save(engine.on_record(family_consent((Recipient.EARLY_HELP,)), NOW))
    held = ledger.latest([f"{ATTENDANCE.event_id}:{r.value}" for r in Recipient])
    holders = {d.recipient.value: d for d in held.values() if d.shares}
    assert holders["early_help"].outcome is Outcome.ALLOW  # under the Khans' consent

    later = NOW + timedelta(minutes=5)
    out = engine.on_relinks([split_off()], later)
    ledger.save(out)
    retracted = {m.recipient: m for m in out.messages if isinstance(m, Retraction)}
    assert set(retracted) == set(holders)  # every recipient that held it
    for recipient, gone in retracted.items():
        assert gone.family_id == FAMILY and gone.revision == holders[recipient].revision + 1
        assert "relinked" in gone.reason
    # Decided again: her family has given no consent, so the hub is back to indicators.
    [again] = [m for m in out.messages if isinstance(m, ShareView) and m.recipient == "early_help"]
    assert again.family_id == HER_FAMILY and again.basis.outcome == "indicator"
    assert again.revision == retracted["early_help"].revision + 1
    assert [s.person_id for s in again.subjects] == [STRANGER]
    # On file under her family now, not the Khans'.
    assert ATTENDANCE.event_id not in {e.event_id for e in ledger.family_events({FAMILY})}
    assert [e.event_id for e in ledger.family_events({HER_FAMILY})] == [ATTENDANCE.event_id]


def test_a_relink_applied_twice_or_for_an_event_never_decided_changes_nothing() -> None:
    engine, ledger, _ = memory_engine()
    ledger.save(engine.on_events(KHANS, NOW))
    ledger.save(engine.on_relinks([split_off()], NOW))
    again = engine.on_relinks([split_off()], NOW)
    assert (again.replays, again.messages, again.decisions) == (1, [], [])
    stray = split_off().model_copy(update={"event_id": uuid.uuid4()})
    assert engine.on_relinks([stray], NOW).unknown == 1
