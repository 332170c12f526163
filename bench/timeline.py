"""Timeline query time for a family with 10, 1,000 and 10,000 entries, SQLite and PostgreSQL.

Each size gets a fresh store holding that family's entries among 1,000 of other families',
then ``TimelineStore.entries`` for the family is timed, and the latest page the console
shows (``TimelineStore.page``, ``TIMELINE_PAGE`` entries): the median of several reads,
with min and max.
"""

from __future__ import annotations

import statistics
import time
import uuid
from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta
from typing import Any

from sqlalchemy import Engine

from bench.databases import scratch_databases
from ehx.consent import ConsentRegistry, load_policy
from ehx.consent.engine import ConsentEngine
from ehx.consent.memory import MemoryKeyVault, MemoryLedger
from ehx.database import migrate
from ehx.schemas.views import ShareView
from ehx.timeline.store import TimelineQuery, TimelineStore

SIZES = (10, 1_000, 10_000)
READS = 7
#: The console's page (``console.web.TIMELINE_PAGE``; not imported: the bench needs no web).
PAGE = 200


def template() -> ShareView:
    """One real view (the hub's view of a health encounter) to copy."""
    from bench.consent import NOW, linked_city

    events = linked_city(50)
    out = ConsentEngine(
        load_policy(), MemoryKeyVault(), ConsentRegistry(), MemoryLedger()
    ).on_events(events, NOW)
    return next(m for m in out.messages if isinstance(m, ShareView))


def fill(store: TimelineStore, view: ShareView, family: str, size: int, others: int) -> None:
    batch: list[ShareView] = []
    for n in range(size + others):
        owner = family if n < size else f"other{n % 97:05d}"
        batch.append(
            view.model_copy(
                update={
                    "event_id": uuid.uuid4(),
                    "family_id": owner,
                    "record_ref": f"BENCH-{n:08d}",
                    "occurred_at": view.occurred_at - timedelta(hours=n),
                }
            )
        )
        if len(batch) == 2_000:
            store.apply(batch)
            batch = []
    store.apply(batch)


def measure(engine: Engine, view: ShareView, size: int) -> dict[str, Any]:
    store = TimelineStore(engine)
    store.clear()
    fill(store, view, "fbench", size, others=1_000)
    query = TimelineQuery(view.recipient, family_id="fbench")
    whole = _timed(lambda: len(store.entries(query)))
    page = _timed(lambda: len(store.page(replace(query, limit=PAGE)).entries))
    assert whole[1] == size and page[1] == min(size, PAGE)
    return {"entries": size, "ms": whole[0], "page_ms": page[0], "page": PAGE}


def _timed(read: Callable[[], int]) -> tuple[dict[str, float], int]:
    timings = []
    count = 0
    for _ in range(READS):
        started = time.perf_counter()
        count = read()
        timings.append((time.perf_counter() - started) * 1000)
    return {"median": statistics.median(timings), "min": min(timings), "max": max(timings)}, count


def run(postgres_url: str | None) -> dict[str, Any]:
    view = template()
    results: dict[str, Any] = {}
    with scratch_databases(postgres_url) as databases:
        for name, engine in databases:
            migrate(engine)
            results[name] = [measure(engine, view, size) for size in SIZES]
    return results
