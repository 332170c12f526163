"""Under a significant-harm override the MASH screens the family, not one incident (issue
31, first finding: the MASH page showed the one incident, and not the child's school
attendance, the landlord's note, or a second incident two days later)."""

from __future__ import annotations

from datetime import timedelta

from ehx.consent import Outcome, OverrideReview, ReviewOutcome
from ehx.schemas.vocabulary import Recipient
from tests.consent.fakes import INCIDENT, KHANS, memory_engine, variant
from tests.records import NOW


def test_the_mash_is_given_the_familys_year_and_what_follows_and_nobody_else_more() -> None:
    engine, ledger, _ = memory_engine()
    long_ago = KHANS[1].model_copy(
        update={"event_id": variant(KHANS[1]).event_id, "occurred_at": NOW - timedelta(days=800)}
    )
    quiet = [e for e in KHANS if e is not INCIDENT] + [long_ago]
    ledger.save(engine.on_events(quiet, NOW))
    assert not [
        d for d in ledger.decisions.values() if d.recipient is Recipient.MASH and d.shares
    ]  # nothing about them reached the MASH: no harm, no consent

    high = variant(INCIDENT, dash_risk="high")
    out = engine.on_events([high], NOW)
    ledger.save(out)
    mash = {d.event_id: d for d in out.decisions if d.recipient is Recipient.MASH}
    within = {e.event_id for e in quiet if e is not long_ago}
    assert set(mash) == within | {high.event_id}
    for event_id in within:
        assert mash[event_id].outcome is Outcome.OVERRIDE
        assert mash[event_id].rule == "domestic_abuse_high_risk_children_present"
        assert mash[event_id].reason.startswith("significant harm in the family")
        assert mash[event_id].evidence_event_ids == (str(high.event_id),)
    # Other recipients' scopes do not widen: only the MASH's decisions were made again.
    assert {d.recipient for d in out.decisions if d.event_id != high.event_id} == {Recipient.MASH}

    # A second incident two days later, not high risk itself, reaches the MASH too.
    second = variant(INCIDENT, dash_risk="medium").model_copy(
        update={"occurred_at": INCIDENT.occurred_at + timedelta(days=2)}
    )
    out = engine.on_events([second], NOW)
    ledger.save(out)
    [decided] = [d for d in out.decisions if d.recipient is Recipient.MASH]
    assert decided.outcome is Outcome.OVERRIDE

    # A manager reverses the override: what it opened of the family is taken back.
    review = OverrideReview(
        override_id=f"{high.event_id}:mash",
        outcome=ReviewOutcome.REVERSED,
        reviewed_by="mgr-1",
        reviewed_at=NOW,
    )
    out = engine.on_record(review, NOW)
    taken_back = {d.event_id for d in out.decisions if not d.shares}
    assert within | {high.event_id, second.event_id} <= taken_back
