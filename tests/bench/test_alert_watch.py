"""The latency benchmark times an alert from when a reader of the queue can see it."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, insert, update
from sqlalchemy.exc import OperationalError

from bench.latency import AlertWatch
from ehx.database import alerts, migrate, open_engine

RAISED = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)


def _alert(engine: Engine, n: int, events: list[str], kind: str = "significant_harm") -> None:
    row: dict[str, Any] = {
        "alert_id": f"{kind}:f{n}:1",
        "family_id": f"f{n}",
        "kind": kind,
        "status": "new",
        "level": "complex_significant",
        "reasons": [],
        "problems": {},
        "event_ids": events,
        "indicators_only": False,
        "raised_at": RAISED,
        "updated_at": RAISED,
    }
    with engine.begin() as connection:
        connection.execute(insert(alerts), [row])


def _engine(tmp_path: Path) -> Engine:
    engine = open_engine(f"sqlite:///{tmp_path / 'ehx.db'}")
    migrate(engine)
    return engine


def test_each_alert_is_seen_once_when_it_is_committed_and_fill_ins_too(tmp_path: Path) -> None:
    engine = _engine(tmp_path)
    _alert(engine, 0, ["warm-up"])  # there before the watch: not part of the run

    async def watched() -> dict[str, float]:
        watch = AlertWatch(engine)
        watch.wanted = {"e1", "e2", "e3"}
        task = asyncio.create_task(watch.run())
        await asyncio.sleep(0.2)
        before = time.time()
        _alert(engine, 1, ["e1"])
        _alert(engine, 2, ["e2"], kind="think_family")  # not what the benchmark times
        await asyncio.sleep(0.2)
        assert set(watch.seen) == {"e1"}
        assert watch.seen["e1"] >= before
        first = watch.seen["e1"]
        # The linker put a second incident in family 1: its event joins the open alert.
        with engine.begin() as connection:
            connection.execute(
                update(alerts)
                .where(alerts.c.alert_id == "significant_harm:f1:1")
                .values(event_ids=["e1", "e3"], updated_at=RAISED + timedelta(seconds=5))
            )
        _alert(engine, 3, ["e2"])
        await asyncio.wait_for(watch.all_seen.wait(), 5)
        task.cancel()
        assert watch.seen["e1"] == first  # seen once, at its first sighting
        return watch.seen

    seen = asyncio.run(watched())
    assert set(seen) == {"e1", "e2", "e3"}
    engine.dispose()


def test_a_watch_that_cannot_read_the_queue_fails_rather_than_waiting(tmp_path: Path) -> None:
    engine = _engine(tmp_path)
    watch = AlertWatch(engine)
    with engine.begin() as connection:
        connection.exec_driver_sql("DROP TABLE alerts")
    with pytest.raises(OperationalError, match="no such table: alerts"):
        asyncio.run(asyncio.wait_for(watch.run(), 5))
    engine.dispose()
