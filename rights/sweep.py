"""The retention sweep: remove what the schedule says has been kept long enough.

For each recipient's timeline entry, the schedule's entry that covers it (by recipient,
outcome and categories) and the year it happened say when it expires. Expired entries
leave the recipient's store; an event leaves the intake, linker and consent stores once
no recipient keeps it and the schedule's last entry (what covers everything) has
expired for it too. Then the keys of every expired period are destroyed, which makes
every copy sealed under them, on a topic or in a store the sweep cannot reach,
unreadable. Each period's removal is put on the ledger by id.

Run again after an interruption, a sweep takes up the unfinished one: what it named
stays named, what is already gone is not removed twice, the ledger keeps each record
once (stable ids).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Protocol

from sqlalchemy import Engine, select

from ehx.consent.keys import DataKeyStore
from ehx.consent.retention import RetentionEntry, RetentionSchedule, parse_period, period
from ehx.database import consent_events, received_events, timeline_entries
from ehx.rights.removal import Removals, Who
from ehx.schemas.audit import Action, AuditRecord, stable_id
from ehx.schemas.vocabulary import Addressee


class Record(Protocol):
    """Puts records on the audit ledger (``ehx.audit``) and returns once they are held."""

    def __call__(self, *records: AuditRecord) -> None: ...


@dataclass
class SweepPlan:
    #: (recipient, event id, period) of each expired entry.
    entries: list[tuple[str, str, str]] = field(default_factory=list)
    #: Events no store needs any longer.
    events: list[str] = field(default_factory=list)
    #: Retention periods whose keys go (``agency/2019``).
    periods: list[str] = field(default_factory=list)

    @property
    def items(self) -> list[dict[str, Any]]:
        return [{"recipient": r, "event_id": e, "period": p} for r, e, p in self.entries] + [
            {"recipient": None, "event_id": e, "period": "intake"} for e in self.events
        ]


def plan(engine: Engine, keys: DataKeyStore, schedule: RetentionSchedule, today: date) -> SweepPlan:
    """What has expired by ``today``."""
    found = SweepPlan()
    shortest = min(e.years for e in schedule.entries)
    before = datetime(today.year - shortest, 1, 1)  # nothing later can have expired
    with engine.connect() as connection:
        rows = connection.execute(
            select(
                timeline_entries.c.recipient,
                timeline_entries.c.event_id,
                timeline_entries.c.occurred_at,
                timeline_entries.c.categories,
                timeline_entries.c.view,
            ).where(timeline_entries.c.occurred_at < before)
        ).all()
    for row in rows:
        entry = _entry_of(schedule, row.recipient, row.view, row.categories or ())
        if row.occurred_at.year <= entry.last_expired_year(today):
            found.entries.append((row.recipient, row.event_id, period(entry, row.occurred_at)))
    found.events = _events_no_one_keeps(engine, schedule, found.entries, today)
    for held in keys.periods():
        parsed = parse_period(held)
        if parsed is None:
            continue
        name, year = parsed
        entry = schedule.named(name) or schedule.longest  # an entry since dropped: the longest
        if year <= entry.last_expired_year(today):
            found.periods.append(held)
    found.periods.sort()
    return found


def _entry_of(
    schedule: RetentionSchedule, recipient: str, view: Any, categories: Sequence[str]
) -> RetentionEntry:
    basis = view.get("basis") if isinstance(view, dict) else None
    outcome = basis.get("outcome", "") if isinstance(basis, dict) else ""
    return schedule.entry_for(Addressee.parse(recipient).recipient, outcome, categories)


def _events_no_one_keeps(
    engine: Engine,
    schedule: RetentionSchedule,
    expired: list[tuple[str, str, str]],
    today: date,
) -> list[str]:
    last = schedule.entries[-1].last_expired_year(today)
    before = datetime(last + 1, 1, 1)
    going = {(r, e) for r, e, _ in expired}
    with engine.connect() as connection:
        candidates = set(
            connection.execute(
                select(received_events.c.event_id).where(received_events.c.occurred_at < before)
            ).scalars()
        ) | set(
            connection.execute(
                select(consent_events.c.event_id).where(consent_events.c.occurred_at < before)
            ).scalars()
        )
        kept = {
            (r, e)
            for r, e in connection.execute(
                select(timeline_entries.c.recipient, timeline_entries.c.event_id).where(
                    timeline_entries.c.event_id.in_(sorted(candidates))
                )
            )
        }
    still = {e for r, e in kept if (r, e) not in going}
    return sorted(candidates - still)


@dataclass
class SweepReport:
    removal_id: str
    resumed: bool
    entries: int
    events: int
    keys: int
    periods: list[str]
    removed: dict[str, int]
    #: Records put on the ledger (one a period, one for the intake's events).
    recorded: int

    def as_dict(self) -> dict[str, Any]:
        return self.__dict__ | {"periods": self.periods}


def sweep(
    engine: Engine,
    schedule: RetentionSchedule,
    by: Who,
    now: datetime,
    record: Record,
) -> SweepReport:
    """Remove what expired by ``now``; take up an unfinished sweep first."""
    keys, removals = DataKeyStore(engine), Removals(engine)
    unfinished = removals.unfinished("sweep")
    removal_id = unfinished[0] if unfinished else f"sweep-{now:%Y%m%dT%H%M%S}"
    found = plan(engine, keys, schedule, now.date())
    on_file = removals.begin(
        removal_id,
        "sweep",
        by.username,
        "retention schedule",
        now,
        periods=found.periods,
        items=found.items,
    )
    entries = [(i["recipient"], i["event_id"]) for i in on_file["items"] if i["recipient"]]
    events = [i["event_id"] for i in on_file["items"] if not i["recipient"]]
    removed = {"timeline_entries": removals.remove_entries(entries)}
    removed |= removals.remove_events(events)
    destroyed = keys.destroy_periods(on_file["periods"], f"retention: {removal_id}")
    records = _ledger(on_file, schedule, by, now)
    record(*records)
    removals.finish(removal_id, now)
    return SweepReport(
        removal_id,
        bool(unfinished),
        len(entries),
        len(events),
        len(destroyed),
        on_file["periods"],
        {k: v for k, v in removed.items() if v},
        len(records),
    )


def _ledger(
    on_file: dict[str, Any], schedule: RetentionSchedule, by: Who, at: datetime
) -> list[AuditRecord]:
    """One ledger record per period removed, by id: which entries, under which line of
    the schedule; the intake's events as one more."""
    removal_id = on_file["removal_id"]
    by_period: dict[str, list[dict[str, Any]]] = {}
    for item in on_file["items"]:
        by_period.setdefault(item["period"], []).append(item)
    for held in on_file["periods"]:
        by_period.setdefault(held, [])
    records = []
    for name, items in sorted(by_period.items()):
        parsed = parse_period(name)
        entry = schedule.named(parsed[0]) if parsed else None
        why = (
            f"{entry.name}: {entry.years} years after the year ({entry.why})"
            if entry is not None
            else "no recipient keeps them and the schedule's last line has passed"
        )
        records.append(
            AuditRecord(
                audit_id=stable_id("retention", removal_id, name),
                action=Action.RETENTION_SWEPT,
                actor=by.username,
                role=by.role,
                agency=by.agency,
                purpose=f"retention sweep {removal_id}, {name}: {why}"[:200],
                event_ids=tuple(sorted({i["event_id"] for i in items})),
                bases=(
                    removal_id,
                    name,
                    *sorted({i["recipient"] for i in items if i["recipient"]}),
                ),
                at=at,
            )
        )
    return records
