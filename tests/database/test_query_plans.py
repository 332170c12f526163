"""The reads a service makes once per batch seek by index on SQLite, however much is on file.

Without statistics SQLite picks an index by its own estimates, and with data on file it
once chose one that walked a whole table per batch (the alert desk read every MASH and
early help entry; consent read every data key), so each batch cost more as the data
grew. Each test puts thousands of rows on file, runs the store's own method, and asks
SQLite how it answered each statement.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, event, insert

from ehx.adapters.registry import RecordRegistry
from ehx.consent.keys import DataKeyStore
from ehx.database import data_keys, source_records, timeline_entries
from ehx.database.engine import migrate, open_engine
from ehx.schemas import Agency
from ehx.timeline.store import TimelineStore

NOW = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
ROWS = 5_000


@contextmanager
def plans(engine: Engine) -> Iterator[list[str]]:
    """SQLite's query plan of each SELECT or UPDATE run inside the block."""
    found: list[str] = []

    def explain(_conn: Any, cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if statement.lstrip().upper().startswith(("SELECT", "UPDATE")):
            rows = cursor.connection.execute("EXPLAIN QUERY PLAN " + statement, parameters)
            found.append(" | ".join(row[-1] for row in rows.fetchall()))

    event.listen(engine, "before_cursor_execute", explain)
    try:
        yield found
    finally:
        event.remove(engine, "before_cursor_execute", explain)


def _filled(tmp_path: Path, table: Any, row: Callable[[int], dict[str, Any]]) -> Engine:
    engine = open_engine(f"sqlite:///{tmp_path / 'ehx.db'}")
    migrate(engine)
    with engine.begin() as connection:
        connection.execute(insert(table), [row(n) for n in range(ROWS)])
    return engine


def test_the_alert_desk_reads_a_batch_s_families_by_family_not_by_recipient(
    tmp_path: Path,
) -> None:
    engine = _filled(
        tmp_path,
        timeline_entries,
        lambda n: {
            "recipient": ("mash", "early_help", "schools")[n % 3],
            "event_id": str(uuid.uuid4()),
            "family_id": f"f{n // 3:08d}",
            "revision": 1,
            "state": "shown",
            "occurred_at": NOW,
            "categories": [],
            "view": {},
        },
    )
    with plans(engine) as seen:  # families with nothing on file: the plan is the same
        TimelineStore(engine).family_views(["mash", "early_help"], ["f-new-1", "f-new-2"])
    [plan] = seen
    assert "USING INDEX ix_timeline_entries_family_recipient (family_id=? AND" in plan, plan


def test_consent_reads_a_batch_s_people_s_keys_by_person(tmp_path: Path) -> None:
    engine = _filled(
        tmp_path,
        data_keys,
        lambda n: {
            "key_id": f"mash:p{n:08d}:mash/2026:v1",
            "recipient": "mash",
            "person_id": f"p{n:08d}",
            "period": "mash/2026",
            "version": 1,
            "key": b"k" * 32,
            "created_at": NOW,
        },
    )
    with plans(engine) as seen:
        DataKeyStore(engine).prefetch(["p00000001", "p00000002"])
    # Keys destroyed by another process since it last asked (a sweep, an erasure), then
    # the batch's people's keys: each by its index, never a scan of every key on file.
    [destroyed, people] = seen
    assert "USING INDEX ix_data_keys_destroyed_at (destroyed_at>?)" in destroyed, destroyed
    assert "USING INDEX ix_data_keys_person_recipient (person_id=?)" in people, people


def test_an_import_marks_its_batch_published_by_record_reference(tmp_path: Path) -> None:
    engine = _filled(
        tmp_path,
        source_records,
        lambda n: {
            "agency": "police",
            "record_ref": f"WMP-{n:08d}",
            "record_version": 1,
            "status": "pending",
            "event_ids": [],
            "content_hash": "h",
            "first_seen_at": NOW,
        },
    )
    with plans(engine) as seen:
        RecordRegistry(engine).mark_published(
            Agency.POLICE, [("WMP-00000001", 1), ("WMP-00000002", 1)], NOW
        )
    [plan] = seen
    assert "(agency=? AND record_ref=?)" in plan, plan
