"""Marks on items, kept apart from the items: "withhold: serious harm" from a subject
access release (a practitioner's, for the DPO's decision), and "disputed" (the data
subject's, recorded by the DPO; every view of the item shows it)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, select

from ehx.database import disputed_items, withheld_items
from ehx.database.upsert import upsert
from ehx.timeline.reading import Entry

#: The shortest reason or note accepted: a word is not a reason.
MIN_REASON = 10


class Markers:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def withhold(self, event_id: str, by: str, marked_for: str, reason: str, at: datetime) -> None:
        """Mark an item to be withheld for serious harm; marked again, the latest reason."""
        row = {
            "event_id": event_id,
            "marked_by": by,
            "marked_for": marked_for,
            "reason": reason.strip(),
            "marked_at": at,
        }
        with self._engine.begin() as connection:
            upsert(connection, withheld_items, [row], keys=("event_id",))

    def dispute(self, event_id: str, by: str, note: str, at: datetime) -> None:
        """Mark an item disputed by the data subject, with what they say is wrong."""
        row = {"event_id": event_id, "disputed_by": by, "note": note.strip(), "disputed_at": at}
        with self._engine.begin() as connection:
            upsert(connection, disputed_items, [row], keys=("event_id",))

    def shown_with_disputes(self, entries: Sequence[Entry]) -> list[Entry]:
        """The entries, each the data subject disputes saying so (every view of an item
        shows its dispute: the console, the API, the command line, a chronology)."""
        found = self.disputed(str(e.view.event_id) for e in entries)
        return [
            replace(e, disputed=found[key]["note"]) if (key := str(e.view.event_id)) in found else e
            for e in entries
        ]

    def withheld(self, event_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
        return self._marks(withheld_items, event_ids)

    def disputed(self, event_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
        return self._marks(disputed_items, event_ids)

    def _marks(self, table: Any, event_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
        wanted = sorted(set(event_ids))
        if not wanted:
            return {}
        with self._engine.connect() as connection:
            rows = connection.execute(select(table).where(table.c.event_id.in_(wanted)))
            return {str(r.event_id): dict(r._mapping) for r in rows}
