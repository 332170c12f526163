"""Removing items and people from every store, and the record of each removal.

A retention sweep removes whole items (a recipient's timeline entry; an event from the
intake, linker and consent stores once no recipient keeps it). An erasure removes one
person: the events about them alone go whole, and from events about others too they
are taken out (their part of each stored event and view), so a child's record stays
when the mother's information is erased. Each step is idempotent, so an interrupted
removal run again finishes the work without removing anything twice.

The ``removals`` row is written before anything is removed and names every item, so a
removal interrupted after deleting rows still reports (and records on the ledger) all
it removed.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import Connection, Engine, delete, select, update

from ehx.database import (
    access_notifications,
    alerts,
    consent_events,
    consent_records,
    disputed_items,
    encompass_notifications,
    link_reviews,
    linker_mentions,
    received_events,
    removals,
    restricted_people,
    screening_outcomes,
    sharing_decisions,
    source_records,
    timeline_entries,
    timeline_people,
    withheld_items,
)
from ehx.database.engine import json_column
from ehx.rights.erasure import Standing

#: Alerts no longer anyone's to screen: they may go with the events behind them.
_CLOSED = ("decided", "gathered")
_CHUNK = 500


def _chunks(values: Sequence[str]) -> Iterable[list[str]]:
    for start in range(0, len(values), _CHUNK):
        yield list(values[start : start + _CHUNK])


@dataclass(frozen=True)
class Who:
    """The data protection officer acting, as the ledger names them."""

    username: str
    role: str
    agency: str


class Removals:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    # --- the record of each removal ------------------------------------------------------

    def begin(
        self,
        removal_id: str,
        kind: str,
        by: str,
        reason: str,
        at: datetime,
        *,
        person_id: str | None = None,
        periods: Sequence[str] = (),
        items: Sequence[Any] = (),
        fingerprints: Sequence[str] = (),
    ) -> dict[str, Any]:
        """Put the removal on file before anything goes; an unfinished one of the same id
        is taken up again, with what it already named kept."""
        with self._engine.begin() as connection:
            found = connection.execute(
                select(removals).where(removals.c.removal_id == removal_id)
            ).first()
            if found is None:
                row: dict[str, Any] = {
                    "removal_id": removal_id,
                    "kind": kind,
                    "person_id": person_id,
                    "requested_by": by,
                    "reason": reason,
                    "started_at": at,
                    "finished_at": None,
                    "periods": sorted(set(periods)),
                    "items": _unique(items),
                    "fingerprints": sorted(set(fingerprints)),
                }
                connection.execute(removals.insert().values(**row))
                return row
            row = dict(found._mapping)
            row["periods"] = sorted(set(row["periods"]) | set(periods))
            row["items"] = _unique([*row["items"], *items])
            row["fingerprints"] = sorted(set(row["fingerprints"]) | set(fingerprints))
            connection.execute(
                update(removals)
                .where(removals.c.removal_id == removal_id)
                .values(
                    periods=row["periods"], items=row["items"], fingerprints=row["fingerprints"]
                )
            )
            return row

    def finish(self, removal_id: str, at: datetime) -> None:
        with self._engine.begin() as connection:
            connection.execute(
                update(removals).where(removals.c.removal_id == removal_id).values(finished_at=at)
            )

    def get(self, removal_id: str) -> dict[str, Any] | None:
        with self._engine.connect() as connection:
            row = connection.execute(
                select(removals).where(removals.c.removal_id == removal_id)
            ).first()
        return dict(row._mapping) if row is not None else None

    def unfinished(self, kind: str) -> list[str]:
        with self._engine.connect() as connection:
            return list(
                connection.execute(
                    select(removals.c.removal_id).where(
                        removals.c.kind == kind, removals.c.finished_at.is_(None)
                    )
                ).scalars()
            )

    # --- what bears on an erasure ---------------------------------------------------------

    def standing(self, ids: Sequence[str], families: Iterable[str], now: datetime) -> Standing:
        wanted = sorted(set(families))
        with self._engine.connect() as connection:
            found = connection.execute(
                select(alerts.c.alert_id, alerts.c.status, alerts.c.raised_at)
                .where(alerts.c.family_id.in_(wanted))
                .order_by(alerts.c.raised_at)
            ).all()
            decided = connection.execute(
                select(
                    screening_outcomes.c.alert_id,
                    screening_outcomes.c.outcome,
                    screening_outcomes.c.decided_at,
                )
                .where(screening_outcomes.c.family_id.in_(wanted))
                .distinct()
            ).all()
            decided_alerts = connection.execute(
                select(alerts.c.alert_id, alerts.c.decision, alerts.c.decided_at).where(
                    alerts.c.family_id.in_(wanted), alerts.c.decision.is_not(None)
                )
            ).all()
            reviews = connection.execute(
                select(sharing_decisions.c.event_id, sharing_decisions.c.review_due).where(
                    sharing_decisions.c.family_id.in_(wanted),
                    sharing_decisions.c.outcome == "override",
                    sharing_decisions.c.reviewed_outcome.is_(None),
                    sharing_decisions.c.review_due.is_not(None),
                )
            ).all()
            # Of those, the ones that shared something about them: one read, not one each.
            about = set(ids)
            about_them = {
                event_id
                for event_id, people in connection.execute(
                    select(consent_events.c.event_id, consent_events.c.person_ids).where(
                        consent_events.c.event_id.in_(sorted({r.event_id for r in reviews}))
                    )
                )
                if about.intersection(people)
            }
            unacknowledged = len(
                connection.execute(
                    select(encompass_notifications.c.notification_id).where(
                        encompass_notifications.c.person_id.in_(list(ids)),
                        encompass_notifications.c.acknowledged_at.is_(None),
                    )
                ).all()
            )
        return Standing(
            open_alerts=[
                (r.alert_id, _aware(r.raised_at)) for r in found if r.status not in _CLOSED
            ],
            decisions=sorted(
                {(r[0], r[1], _aware(r[2])) for r in [*decided, *decided_alerts]},
                key=lambda d: d[2],
                reverse=True,
            ),
            reviews_due=[
                (r.event_id, _aware(r.review_due)) for r in reviews if r.event_id in about_them
            ],
            unacknowledged=unacknowledged,
        )

    # --- removing ------------------------------------------------------------------------

    def remove_entries(self, entries: Sequence[tuple[str, str]]) -> int:
        """Recipients' timeline entries (recipient, event id), who they are about, and a
        school's Operation Encompass notice of the event."""
        removed = 0
        with self._engine.begin() as connection:
            for recipient, event_id in entries:
                for table in (timeline_people, timeline_entries):
                    done = connection.execute(
                        delete(table).where(
                            table.c.recipient == recipient, table.c.event_id == event_id
                        )
                    )
                    removed += done.rowcount if table is timeline_entries else 0
                kind, _, urn = recipient.partition(":")
                if kind in ("school", "schools"):
                    notices = encompass_notifications
                    school = notices.c.school_urn == urn if urn else notices.c.school_urn.is_(None)
                    connection.execute(
                        delete(notices).where(notices.c.event_id == event_id, school)
                    )
        return removed

    def remove_events(self, event_ids: Sequence[str]) -> dict[str, int]:
        """Events from every store that keeps them: intake, linker, consent, decisions,
        recipients' timelines, Encompass notices, markers; and decided alerts that were
        about nothing else. Returns rows removed by store."""
        wanted = sorted(set(event_ids))
        counts: dict[str, int] = {}
        with self._engine.begin() as connection:
            for chunk in _chunks(wanted):
                for table in (
                    timeline_people,
                    timeline_entries,
                    encompass_notifications,
                    withheld_items,
                    disputed_items,
                    link_reviews,
                    linker_mentions,
                    sharing_decisions,
                    consent_events,
                    received_events,
                ):
                    done = connection.execute(delete(table).where(table.c.event_id.in_(chunk)))
                    counts[table.name] = counts.get(table.name, 0) + done.rowcount
            gone = set(wanted)
            counts["source_records"] = _remove_where_all_gone(
                connection, source_records, "event_ids", gone
            )
            counts["access_notifications"] = _remove_where_all_gone(
                connection, access_notifications, "event_ids", gone
            )
            counts["alerts"] = _remove_closed_alerts(connection, gone)
        return {k: v for k, v in counts.items() if v}

    def erase_person(self, ids: Sequence[str], event_ids: Sequence[str]) -> dict[str, int]:
        """Take the person (under any of ``ids``) out of events that others are in, and
        remove what is about them alone (consents about them, their restriction marker,
        their Encompass notices, link reviews naming them)."""
        people = set(ids)
        counts: dict[str, int] = {}
        with self._engine.begin() as connection:
            rows = connection.execute(
                select(consent_events).where(consent_events.c.event_id.in_(list(event_ids)))
            ).all()
            for row in rows:
                event = orjson.loads(row.body)
                event["subjects"] = [
                    s for s in event["subjects"] if s.get("person_id") not in people
                ]
                connection.execute(
                    update(consent_events)
                    .where(
                        consent_events.c.event_id == row.event_id,
                        consent_events.c.family_id == row.family_id,
                    )
                    .values(
                        body=orjson.dumps(event).decode(),
                        person_ids=[p for p in row.person_ids if p not in people],
                    )
                )
            counts["consent_events"] = len(rows)
            views = connection.execute(
                select(
                    timeline_entries.c.recipient,
                    timeline_entries.c.event_id,
                    timeline_entries.c.view,
                ).where(timeline_entries.c.event_id.in_(list(event_ids)))
            ).all()
            for view_row in views:
                view = view_row.view
                if not isinstance(view, dict):
                    continue
                view["subjects"] = [
                    s for s in view.get("subjects", []) if s.get("person_id") not in people
                ]
                where = (
                    timeline_entries.c.recipient == view_row.recipient,
                    timeline_entries.c.event_id == view_row.event_id,
                )
                if not view["subjects"]:  # the recipient was told of them alone: it goes
                    connection.execute(delete(timeline_entries).where(*where))
                    continue
                for person in people:
                    view.get("school_roll", {}).pop(person, None)
                connection.execute(
                    update(timeline_entries)
                    .where(*where)
                    .values(view=json_column(orjson.dumps(view)))
                )
            counts["timeline_entries"] = len(views)
            for table, column in (
                (timeline_people, timeline_people.c.person_id),
                (linker_mentions, linker_mentions.c.person_id),
                (encompass_notifications, encompass_notifications.c.person_id),
                (consent_records, consent_records.c.subject_id),
                (restricted_people, restricted_people.c.person_id),
            ):
                done = connection.execute(delete(table).where(column.in_(sorted(people))))
                counts[table.name] = counts.get(table.name, 0) + done.rowcount
            for column in (link_reviews.c.person_id, link_reviews.c.candidate_id):
                done = connection.execute(delete(link_reviews).where(column.in_(sorted(people))))
                counts["link_reviews"] = counts.get("link_reviews", 0) + done.rowcount
        return {k: v for k, v in counts.items() if v}


def _unique(items: Iterable[Any]) -> list[Any]:
    seen: list[Any] = []
    for item in items:
        if item not in seen:
            seen.append(item)
    return seen


def _aware(at: datetime) -> datetime:
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


def _remove_where_all_gone(connection: Connection, table: Any, column: str, gone: set[str]) -> int:
    """Rows whose every event is gone (an agency record's events, a notification's).

    Reads the whole table (a JSON list cannot be indexed): a sweep runs once a year, an
    erasure rarely; if that grows too slow, an event-to-row table is the next step."""
    removed = 0
    for row in connection.execute(select(table)).mappings().all():
        ids = row[column] or []
        if ids and set(ids) <= gone:
            keys = [c for c in table.primary_key.columns]
            connection.execute(delete(table).where(*(c == row[c.name] for c in keys)))
            removed += 1
    return removed


def _remove_closed_alerts(connection: Connection, gone: set[str]) -> int:
    """Decided alerts about nothing but removed events, and the outcomes told of them."""
    removed = 0
    rows = connection.execute(
        select(alerts.c.alert_id, alerts.c.event_ids).where(alerts.c.status.in_(_CLOSED))
    ).all()
    for alert_id, ids in rows:
        if ids and set(ids) <= gone:
            connection.execute(
                delete(screening_outcomes).where(screening_outcomes.c.alert_id == alert_id)
            )
            connection.execute(delete(alerts).where(alerts.c.alert_id == alert_id))
            removed += 1
    return removed
