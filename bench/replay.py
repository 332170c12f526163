"""Replaying a million events: ``timeline rebuild`` from the share topics into an empty store.

The views are real: a synthetic city decided by the consent engine with the shipped
policy (sealed, as recipients get them), then copied under fresh event, decision and
family ids until there are ``events`` of them on the ``ehx.share.*`` topics of a fresh
embedded broker. The rebuild (``timeline/service.py``: read every share topic from the
start, apply in batches) runs into an empty SQLite store; records per second, total time,
and this process's resident memory every tenth of the way, which must level off rather
than grow with the number of events. The broker's own memory grows by design: tansu
keeps every record in memory and never frees it.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
from aiokafka import AIOKafkaProducer

from bench.consent import NOW, linked_city, realistic_registry
from bench.pipeline import _rss_mb
from ehx.broker.admin import apply_topology
from ehx.broker.embedded import EmbeddedBroker
from ehx.broker.settings import BrokerSettings
from ehx.broker.topics import Topic
from ehx.consent import load_policy
from ehx.consent.engine import ConsentEngine
from ehx.consent.memory import MemoryKeyVault, MemoryLedger
from ehx.database import migrate, open_engine
from ehx.schemas.views import ShareView
from ehx.schemas.vocabulary import Recipient
from ehx.timeline.service import rebuild
from ehx.timeline.store import TimelineStore


def sample_views(people: int = 2_000) -> list[dict[str, Any]]:
    """Views as the consent service makes them, for a small synthetic city."""
    events = linked_city(people)
    engine = ConsentEngine(
        load_policy(), MemoryKeyVault(), realistic_registry(events), MemoryLedger()
    )
    out = engine.on_events(events, NOW)
    return [m.model_dump(mode="json") for m in out.messages if isinstance(m, ShareView)]


async def publish_copies(bootstrap: str, views: list[dict[str, Any]], total: int) -> float:
    """``total`` copies of ``views`` under fresh ids on the share topics; seconds taken."""
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        acks="all",
        linger_ms=5,
        max_batch_size=512 * 1024,
        max_request_size=2 * 1024 * 1024,
    )
    await producer.start()
    started = time.monotonic()
    try:
        pending = []
        for n in range(total):
            view = dict(views[n % len(views)])
            view["event_id"] = str(uuid.uuid4())
            view["decision_id"] = f"{view['event_id']}:{view['recipient']}"
            view["family_id"] = f"f{n // 40:08d}"  # families of about forty entries
            # Each copy its own agency record: sharing the originals' references would
            # make every copy a version of the same few thousand records.
            view["record_ref"] = f"{view['record_ref']}~{n}"
            topic = Topic.share(Recipient(view["recipient"]))
            pending.append(
                await producer.send(topic, orjson.dumps(view), key=view["family_id"].encode())
            )
            if len(pending) >= 5_000:
                await asyncio.gather(*pending)
                pending = []
        await asyncio.gather(*pending)
    finally:
        await producer.stop()
    return time.monotonic() - started


def measure(events: int = 1_000_000, say: Callable[[str], None] = print) -> dict[str, Any]:
    """Publish ``events`` views, then rebuild the timeline from them, timed and sampled."""
    views = sample_views()
    say(f"replay: {len(views):,} views from a synthetic city, copied to {events:,}")
    with tempfile.TemporaryDirectory() as scratch:
        work = Path(scratch)
        with EmbeddedBroker(log_path=work / "broker.log") as broker:
            asyncio.run(apply_topology(broker.bootstrap, BrokerSettings()))
            loading = asyncio.run(publish_copies(broker.bootstrap, views, events))
            say(f"replay: {events:,} on the share topics in {loading:.0f} s; rebuilding")
            engine = open_engine(f"sqlite:///{work / 'timeline.db'}")
            migrate(engine)
            store = TimelineStore(engine)
            memory: list[tuple[int, float]] = []
            marks = iter(range(events // 10, events + 1, events // 10))
            mark = next(marks)

            last = time.monotonic()

            def progress(seen: int) -> None:
                nonlocal mark, last
                last = time.monotonic()
                while seen >= mark:
                    memory.append((mark, round(_rss_mb(os.getpid()), 1)))
                    mark = next(marks, events * 10)

            started = time.monotonic()
            applied = asyncio.run(rebuild(store, broker.bootstrap, on_progress=progress))
            # To the last batch applied: the rebuild then waits two quiet seconds to be sure
            # it is at the end (the embedded broker's high watermark cannot say).
            seconds = last - started
            broker_mb = _rss_mb(broker.process.pid) if broker.process else 0.0
            engine.dispose()
    return {
        "events": events,
        "seconds": round(seconds, 1),
        "events_per_second": events / seconds,
        "shown": applied.shown,
        "rss_mb_by_events": memory,
        "broker_rss_mb": round(broker_mb),
    }
