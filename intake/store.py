"""Where the intake service keeps the verified raw events it received."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, func, select

from ehx.database import received_events
from ehx.database.upsert import insert_ignoring_duplicates


@dataclass(frozen=True)
class ReceivedEvent:
    event_id: str
    agency: str
    record_ref: str
    record_version: int
    event_type: str
    occurred_at: datetime
    received_at: datetime
    topic: str
    partition: int
    offset: int
    #: SHA-256 of the event's bytes as they arrived: what it was, provably, without
    #: keeping its content here, where no key destroyed later could reach it.
    sha256: str


class IntakeStore:
    """Received events, idempotent by event id."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def add(self, events: Sequence[ReceivedEvent]) -> int:
        """Store events; return how many were new (the rest were replays)."""
        with self._engine.begin() as connection:
            return insert_ignoring_duplicates(
                connection, received_events, [event.__dict__ for event in events]
            )

    def replays(self, events: Sequence[ReceivedEvent]) -> list[tuple[ReceivedEvent, str]]:
        """Events already held that arrived again at another place in a topic: published
        again (a resend, or a replay attack), not redelivered after a crash. Each with
        where it first arrived."""
        if not events:
            return []
        with self._engine.connect() as connection:
            first = {
                row.event_id: (row.topic, row.partition, row.offset)
                for row in connection.execute(
                    select(
                        received_events.c.event_id,
                        received_events.c.topic,
                        received_events.c.partition,
                        received_events.c.offset,
                    ).where(received_events.c.event_id.in_([e.event_id for e in events]))
                )
            }
        return [
            (
                event,
                f"{first[event.event_id][0]}[{first[event.event_id][1]}]@{first[event.event_id][2]}",
            )
            for event in events
            if event.event_id in first
            and first[event.event_id] != (event.topic, event.partition, event.offset)
        ]

    def count_by_type(self) -> Counter[tuple[str, str]]:
        with self._engine.connect() as connection:
            rows = connection.execute(
                select(
                    received_events.c.agency, received_events.c.event_type, func.count()
                ).group_by(received_events.c.agency, received_events.c.event_type)
            ).all()
        return Counter({(row[0], row[1]): int(row[2]) for row in rows})

    def total(self) -> int:
        with self._engine.connect() as connection:
            return int(
                connection.execute(select(func.count()).select_from(received_events)).scalar_one()
            )

    def recent(self, limit: int = 50) -> list[dict[str, Any]]:
        with self._engine.connect() as connection:
            rows = connection.execute(
                select(
                    received_events.c.event_id,
                    received_events.c.agency,
                    received_events.c.event_type,
                    received_events.c.record_ref,
                    received_events.c.record_version,
                    received_events.c.occurred_at,
                )
                .order_by(received_events.c.occurred_at)
                .limit(limit)
            ).all()
        return [dict(row._mapping) for row in rows]
