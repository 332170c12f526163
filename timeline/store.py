"""The timeline store: each recipient's view of each family, in the order things happened.

SQLAlchemy Core over SQLite (the embedded default) or PostgreSQL; one contract test
suite runs on both. Applying a message is idempotent by (recipient, event id, revision):

- a view with a higher revision than the row's replaces it; a lower or equal one is a
  replay and changes nothing;
- a retraction with a higher revision leaves a tombstone (state ``retracted``), so a
  late copy of an older view cannot bring the entry back;
- a higher ``record_version`` of the same agency record supersedes the earlier entry
  (a correction), whichever arrives first.

A long timeline is read a page at a time, newest page first: ``limit`` keeps the latest
entries (still shown oldest first) and ``before`` names the entry a page starts after,
the oldest entry of the page a reader already has. A family known to every agency for
years holds thousands of entries; the console shows the latest few hundred, and only
those are opened, rendered and recorded as read.
"""

from __future__ import annotations

from collections.abc import Iterable, MutableMapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Annotated, Any

from pydantic import Field, TypeAdapter
from sqlalchemy import Connection, Engine, Text, and_, cast, delete, func, or_, select

from ehx.database import timeline_entries, timeline_people
from ehx.schemas import ExchangeError
from ehx.schemas.views import Retraction, ShareView
from ehx.timeline.writes import SHOWN, BatchWrite

#: Told apart by their ``kind``, so each message is validated as one model, not tried as
#: both: half the time on a stream of views (13.7 -> 6.4 us a view, measured here).
_message: TypeAdapter[ShareView | Retraction] = TypeAdapter(
    Annotated[ShareView | Retraction, Field(discriminator="kind")]
)

#: A stored view as its text, parsed straight into the model (``model_validate_json``)
#: rather than decoded into dicts and validated from those: a long timeline's read is
#: mostly this (10,000 entries on SQLite 185-253 -> 154-176 ms, 2026-12-04), and the alert
#: desk parses only the views it does not already hold.
_VIEW_TEXT = cast(timeline_entries.c.view, Text)


@dataclass(frozen=True)
class TimelineQuery:
    """Which entries to show: a family or a person, as one recipient, optionally narrowed."""

    recipient: str
    family_id: str | None = None
    person_id: str | None = None
    categories: frozenset[str] = frozenset()
    agencies: frozenset[str] = frozenset()
    since: datetime | None = None
    until: datetime | None = None
    #: Only the latest ``limit`` entries (after the other filters), still oldest first.
    limit: int | None = None
    #: Only entries before this one (an event id in this recipient's timeline): the page
    #: before one whose oldest entry it is.
    before: str | None = None


@dataclass(frozen=True)
class TimelinePage:
    """One page of a timeline, oldest first; ``earlier``: there are entries before it."""

    entries: list[ShareView]
    earlier: bool

    @property
    def before(self) -> str | None:
        """What to ask for the page before this one (its oldest entry), if there is one."""
        return str(self.entries[0].event_id) if self.earlier and self.entries else None


class UnknownEntry(ExchangeError):
    """A page was asked for before an entry this recipient's timeline does not hold."""


@dataclass(frozen=True)
class Applied:
    shown: int = 0
    retracted: int = 0
    superseded: int = 0
    replays: int = 0


class TimelineStore:
    """Timelines in the database."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def apply(
        self,
        messages: Iterable[ShareView | Retraction],
        as_received: Sequence[bytes] | None = None,
    ) -> Applied:
        """Take in views and retractions, in order (one transaction); count what changed.

        ``as_received``: each message's bytes as read from its topic, in the same order,
        kept as the stored view (a view is not serialised again to be stored).
        """
        batch = list(messages)
        received = list(as_received) if as_received is not None else [None] * len(batch)
        if len(received) != len(batch):
            raise ValueError("as_received must hold one value for each message")
        counts = {"shown": 0, "retracted": 0, "superseded": 0, "replays": 0}
        if not batch:
            return Applied()
        with self._engine.begin() as connection:
            write = BatchWrite(connection, batch)
            for message, raw in zip(batch, received, strict=True):
                counts[write.take(message, raw)] += 1
            write.write()
        return Applied(**counts)

    def entries(self, query: TimelineQuery) -> list[ShareView]:
        """The shown entries, oldest first (the latest ``query.limit`` of them, if set)."""
        columns = timeline_entries.c
        statement = select(columns.categories, _VIEW_TEXT).where(
            columns.recipient == query.recipient, columns.state == SHOWN
        )
        if query.family_id:
            statement = statement.where(columns.family_id == query.family_id)
        if query.person_id:
            people = timeline_people.c
            statement = statement.join(
                timeline_people,
                and_(people.recipient == columns.recipient, people.event_id == columns.event_id),
            ).where(people.person_id == query.person_id)
        if query.agencies:
            statement = statement.where(columns.source_agency.in_(sorted(query.agencies)))
        if query.since:
            statement = statement.where(columns.occurred_at >= query.since)
        if query.until:
            statement = statement.where(columns.occurred_at <= query.until)
        with self._engine.connect() as connection:
            if query.before:
                statement = statement.where(self._before(connection, query))
            if not query.limit:
                order = statement.order_by(columns.occurred_at, columns.event_id)
                rows = connection.execute(order)
                return [
                    ShareView.model_validate_json(view)
                    for categories, view in rows
                    if _wanted(query, categories)
                ]
            # Newest first, and only as far as the page needs. Categories are filtered here,
            # not in SQL (a JSON list, asked differently of each database): a filtered page
            # streams rows until it is full, checking the stored categories before it
            # validates a view; an unfiltered one is a plain LIMIT (a server-side cursor
            # costs PostgreSQL more round trips than a small page saves).
            newest = statement.order_by(columns.occurred_at.desc(), columns.event_id.desc())
            if query.categories:
                streamed = connection.execution_options(
                    stream_results=True, yield_per=max(query.limit, 100)
                )
                rows = streamed.execute(newest)
            else:
                rows = connection.execute(newest.limit(query.limit))
            page: list[ShareView] = []
            for categories, view in rows:
                if _wanted(query, categories):
                    page.append(ShareView.model_validate_json(view))
                    if len(page) == query.limit:
                        break
            rows.close()
        page.reverse()
        return page

    def page(self, query: TimelineQuery) -> TimelinePage:
        """The latest ``query.limit`` entries, and whether the timeline goes back further.

        Without a limit, every entry the query names (and so nothing earlier).
        """
        if not query.limit:
            return TimelinePage(self.entries(query), earlier=False)
        found = self.entries(replace(query, limit=query.limit + 1))
        return TimelinePage(found[-query.limit :], earlier=len(found) > query.limit)

    def _before(self, connection: Connection, query: TimelineQuery) -> Any:
        """Where a page before ``query.before`` ends: strictly earlier in the timeline's order."""
        columns = timeline_entries.c
        found = connection.execute(
            select(columns.occurred_at, columns.event_id).where(
                columns.recipient == query.recipient, columns.event_id == query.before
            )
        ).first()
        if found is None:
            raise UnknownEntry(f"no entry {query.before} in {query.recipient}'s timeline")
        occurred_at, event_id = found
        return or_(
            columns.occurred_at < occurred_at,
            and_(columns.occurred_at == occurred_at, columns.event_id < event_id),
        )

    def family_views(
        self,
        recipients: Sequence[str],
        family_ids: Sequence[str],
        known: MutableMapping[tuple[str, str, int], ShareView] | None = None,
    ) -> dict[str, list[ShareView]]:
        """The shown entries of many families for some recipients, in one query.

        ``known``: views already validated, by (recipient, event id, revision): a view's
        revision never changes, so those are reused rather than validated again (the
        alert desk reads whole families after every batch); the rest are added to it.
        Views are read as text and only those not known are parsed: most rows the alert
        desk reads are the batch it has just stored, which it holds already.
        """
        if not family_ids:
            return {}
        columns = timeline_entries.c
        statement = (
            select(
                columns.family_id,
                columns.recipient,
                columns.event_id,
                columns.revision,
                _VIEW_TEXT,
            )
            .where(
                columns.recipient.in_(list(recipients)),
                columns.family_id.in_(sorted(set(family_ids))),
                columns.state == SHOWN,
            )
            .order_by(columns.occurred_at, columns.event_id)
        )
        known = known if known is not None else {}
        found: dict[str, list[ShareView]] = {f: [] for f in family_ids}
        with self._engine.connect() as connection:
            for family_id, recipient, event_id, revision, view in connection.execute(statement):
                key = (recipient, event_id, revision)
                seen = known.get(key)
                if seen is None:
                    seen = known[key] = ShareView.model_validate_json(view)
                found[family_id].append(seen)
        return found

    def snapshot(self) -> list[tuple[Any, ...]]:
        """Every row, in key order: two stores in the same state give equal snapshots."""
        with self._engine.connect() as connection:
            rows = connection.execute(
                select(timeline_entries).order_by(
                    timeline_entries.c.recipient, timeline_entries.c.event_id
                )
            ).all()
            people = connection.execute(select(timeline_people).order_by(*timeline_people.c)).all()
        return [tuple(r) for r in rows] + [tuple(p) for p in people]

    def clear(self) -> None:
        with self._engine.begin() as connection:
            connection.execute(delete(timeline_people))
            connection.execute(delete(timeline_entries))

    def count(self) -> dict[str, int]:
        with self._engine.connect() as connection:
            rows = connection.execute(
                select(timeline_entries.c.state, func.count()).group_by(timeline_entries.c.state)
            ).all()
        return {state: int(n) for state, n in rows}

    def named_in_view(self, recipient: str, person_ids: Iterable[str]) -> set[str]:
        """Which of these people ``recipient``'s views name (their demographics shown to
        it, not withheld or an indicator): the people it may find by name."""
        ids = sorted(set(person_ids))
        if not ids:
            return set()
        p, e = timeline_people.c, timeline_entries.c
        query = (
            select(p.person_id, e.view)
            .join(timeline_entries, (e.recipient == p.recipient) & (e.event_id == p.event_id))
            .where(p.recipient == recipient, p.person_id.in_(ids), e.state == "shown")
        )
        named = set()
        with self._engine.connect() as connection:
            for person_id, view in connection.execute(query):
                subjects = (view or {}).get("subjects", [])
                if any(s.get("person_id") == person_id and s.get("demographics") for s in subjects):
                    named.add(person_id)
        return named

    def families(self, recipient: str) -> list[str]:
        with self._engine.connect() as connection:
            return list(
                connection.execute(
                    select(timeline_entries.c.family_id)
                    .where(
                        timeline_entries.c.recipient == recipient,
                        timeline_entries.c.state == SHOWN,
                    )
                    .distinct()
                    .order_by(timeline_entries.c.family_id)
                ).scalars()
            )


def parse_message(value: bytes) -> ShareView | Retraction:
    return _message.validate_json(value)


def _wanted(query: TimelineQuery, categories: Sequence[str] | None) -> bool:
    return not query.categories or bool(query.categories.intersection(categories or ()))
