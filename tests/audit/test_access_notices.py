"""CP-IS access notifications tell the organisation that holds the record: the trust that
sent it, not "health"; a trust reading its own records tells nobody."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Engine, select

from ehx.audit.access import AccessLog, notices
from ehx.audit.ledger import Found
from ehx.database import timeline_entries
from ehx.schemas.audit import Action, AuditRecord
from tests.flows import AMINAS_TRUST, MARYAMS_TRUST, khans_served_by_two_of_each

MARYAM = "p-maryam"


def read_by(agency: str, *event_ids: str) -> Found:
    record = AuditRecord(
        action=Action.TIMELINE_READ,
        actor="reader-1",
        role="health_practitioner",
        agency=agency,
        purpose="case work",
        subject_ids=(MARYAM,),
        event_ids=event_ids,
        at=datetime(2026, 12, 1, tzinfo=UTC),
    )
    return Found(seq=7, record=record)


def test_the_trust_that_sent_the_record_is_told_not_every_trust() -> None:
    holdings = {"e1": (f"health:{MARYAMS_TRUST}", frozenset({MARYAM}))}
    [told] = notices(read_by(f"health:{AMINAS_TRUST}", "e1"), {MARYAM}, holdings)
    assert (told.owner, told.viewer) == (f"health:{MARYAMS_TRUST}", f"health:{AMINAS_TRUST}")
    # Its own people reading its own record is no news to it.
    assert notices(read_by(f"health:{MARYAMS_TRUST}", "e1"), {MARYAM}, holdings) == []


def test_what_each_record_is_held_by_is_read_from_the_sender_on_the_timeline(
    sqlite_engine: Engine,
) -> None:
    khans_served_by_two_of_each(sqlite_engine)
    with sqlite_engine.connect() as connection:
        ids = sorted(
            str(e)
            for (e,) in connection.execute(
                select(timeline_entries.c.event_id).where(
                    timeline_entries.c.source_agency == "health"
                )
            )
        )
    owners = {owner for owner, _ in AccessLog(sqlite_engine).holdings(ids).values()}
    assert owners == {f"health:{AMINAS_TRUST}", f"health:{MARYAMS_TRUST}"}
