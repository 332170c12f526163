"""Each alert-path stage's own work, in one process, without Kafka: CPU ms a record.

The latency benchmark's records (police incidents, each a significant-harm override and a
new family) go through the adapter (the agency's records mapped, registered and signed),
then the linker, consent and the timeline with its alert desk, each called as its service
calls it: the same verification, stores (SQLite files), heap settings and batches of
1,000, but the messages handed from stage to stage in memory. What each stage costs is
its process CPU time, by stage.

Why it exists: on these shared machines the latency benchmark's CPU a record moves by a
tenth from one run to the next, and its p99 by a factor of two, so a change worth a few
per cent of one stage is lost in it (``ehx bench-compare`` needs many rounds to see one).
Here nothing else runs, and three runs each way show it. What this leaves out is the
rest of a service's cost: consuming and publishing, the event loop, the thread hand-offs
and the other processes it shares two cores with; at 1,000 records/s on 2026-12-04 a
service spent 1.3 to 1.8 times what this counts for its stage (docs/performance.md).

Run it::

    python -m bench.stages                     # 4,000 records
    python -m bench.stages --records 2000 --profile consent   # and cProfile one stage

Three runs of each side of a change, alternated, are enough to see a few per cent.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import pstats
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from types import SimpleNamespace
from typing import Any, TypeVar

from bench.latency import agency_records
from ehx.adapters import ADAPTERS
from ehx.adapters.ingest import Ingestor
from ehx.adapters.registry import RecordRegistry
from ehx.alerts.desk import AlertDesk
from ehx.alerts.store import AlertStore
from ehx.broker import heap
from ehx.broker.auditing import audit_messages
from ehx.broker.consuming import parsed, verified_event
from ehx.broker.publishing import OutboundMessage
from ehx.broker.topics import Topic
from ehx.consent import load_policy
from ehx.consent.auditing import consent_acts
from ehx.consent.keys import DataKeyStore
from ehx.consent.service import ConsentService, _journey, outbox_messages
from ehx.consent.store import ConsentStore
from ehx.database import migrate, open_engine
from ehx.linker.service import Linker, linked_message
from ehx.linker.store import LinkStore
from ehx.schemas import Agency, CanonicalEvent, KeyStore
from ehx.schemas.views import Retraction, ShareView
from ehx.timeline.store import TimelineStore, parse_message

#: The stages, in pipeline order.
STAGES = ("adapter", "linker", "consent", "timeline")
#: Records a batch: what each service takes at once when it is behind.
BATCH = 1_000

T = TypeVar("T")


class _Collected:
    """A ``MessagePublisher`` that keeps what it is given, in order."""

    def __init__(self) -> None:
        self.messages: list[OutboundMessage] = []

    async def publish(self, messages: Sequence[OutboundMessage]) -> None:
        self.messages += messages


def _as_consumed(messages: Sequence[OutboundMessage], topic_prefix: str) -> list[Any]:
    """The messages on topics starting ``topic_prefix``, as a consumer's records."""
    return [
        SimpleNamespace(
            topic=m.topic, partition=0, offset=n, key=m.key, value=m.value, headers=list(m.headers)
        )
        for n, m in enumerate(messages)
        if m.topic.startswith(topic_prefix)
    ]


@dataclass
class StageCosts:
    """CPU seconds by stage, and what went through."""

    records: int = 0
    seconds: dict[str, float] = field(default_factory=lambda: dict.fromkeys(STAGES, 0.0))
    linked: int = 0
    views: int = 0
    alerts_changed: int = 0
    profiles: list[cProfile.Profile] = field(default_factory=list)

    @contextmanager
    def costing(self, stage: str, profile: str | None) -> Iterator[None]:
        """Add the CPU time inside to ``stage``; cProfile it if it is the one asked for."""
        profiler = cProfile.Profile() if profile == stage else None
        began = time.process_time()
        if profiler is not None:
            profiler.enable()
        try:
            yield
        finally:
            if profiler is not None:
                profiler.disable()
                self.profiles.append(profiler)
            self.seconds[stage] += time.process_time() - began

    def timed(self, stage: str, work: Callable[[], T], profile: str | None) -> T:
        with self.costing(stage, profile):
            return work()

    def ms_per_record(self) -> dict[str, float]:
        per = {k: round(1000 * v / max(1, self.records), 3) for k, v in self.seconds.items()}
        return per | {"all": round(sum(per.values()), 3)}


async def measure(records: int = 4_000, profile: str | None = None) -> StageCosts:
    """Run ``records`` incidents through every stage; CPU by stage."""
    costs = StageCosts()
    with tempfile.TemporaryDirectory() as scratch:
        work = Path(scratch)
        keys = KeyStore(work / "keys")
        keys.init()
        engine = open_engine(f"sqlite:///{work / 'ehx.db'}")
        migrate(engine)
        agency = open_engine(f"sqlite:///{work / 'agency.db'}")
        migrate(agency)
        try:
            await _run(costs, engine, agency, keys, records, profile)
        finally:
            engine.dispose()
            agency.dispose()
    return costs


async def _run(
    costs: StageCosts, engine: Any, agency: Any, keys: KeyStore, records: int, profile: str | None
) -> None:
    bodies = agency_records(1_000, records / 1_000)
    collected = _Collected()
    with ThreadPoolExecutor(max_workers=1) as registry_thread:
        ingestor = Ingestor(
            ADAPTERS[Agency.POLICE],
            RecordRegistry(agency),
            keys.signer(Agency.POLICE),
            collected,
            registry_thread=registry_thread,
        )
        with costs.costing("adapter", profile):
            for body, count in bodies:
                await ingestor.ingest(io.BytesIO(body), "stages")
                costs.records += count
    raw = _as_consumed(collected.messages, "ehx.raw.")

    verifier = keys.verifier()
    linker = Linker.open(LinkStore(engine))
    policy = load_policy()
    consent = ConsentService.open(ConsentStore(engine), DataKeyStore(engine), policy)
    timeline = TimelineStore(engine)
    desk = AlertDesk(AlertStore(engine), timeline, policy)
    # As a service starts: what start-up built is left out of every later collection.
    heap.keep_long_lived_out_of_collections()
    heap.freeze_start_up()
    now = datetime.now(UTC)

    def link(batch: list[Any]) -> list[OutboundMessage]:
        # The linker service's ``on_raw`` and ``link_batch``.
        events = []
        for record in batch:
            event = verified_event(record, verifier, "linker", now, raw=True)
            assert isinstance(event, CanonicalEvent), "a record was refused"
            events.append(event)
        done = linker.store.linked([str(e.event_id) for e in events])
        out, mentions = [], []
        for event in events:
            if str(event.event_id) in done:
                continue
            linked, made = linker.link(event)
            mentions += made
            out.append(linked_message(linked, str(int(time.time() * 1000))))
        if mentions:
            linker.reserve()
        linker.store.save_reviews(linker.take_reviews())
        linker.store.save(mentions, linker.identities.take_journal())
        return out

    def decide(batch: list[Any]) -> list[OutboundMessage]:
        # The consent service's ``on_linked``, for events (no relinks here).
        events, carried, as_received = [], {}, {}
        for record in batch:
            event = verified_event(record, verifier, "consent", now)
            assert isinstance(event, CanonicalEvent), "a linked event was refused"
            events.append(event)
            carried[str(event.event_id)] = _journey(event, record.headers)
            as_received[str(event.event_id)] = record.value
        outbox = consent.engine.on_events(events, now)
        consent.engine.vault.flush()
        out = outbox_messages(outbox, carried) + audit_messages(consent_acts(outbox, now))
        consent.store.save(outbox, as_received)
        return out

    def keep(batch: list[Any]) -> int:
        # The timeline service's ``on_share``, then the alert desk.
        messages: list[ShareView | Retraction] = []
        for record in batch:
            message = parsed(record, parse_message, "timeline", "a view or a retraction", now)
            assert isinstance(message, ShareView | Retraction), "a view was refused"
            messages.append(message)
        timeline.apply(messages, [r.value for r in batch])
        return len(desk.after(messages, datetime.now(UTC)))

    for start in range(0, len(raw), BATCH):
        linked = costs.timed("linker", partial(link, raw[start : start + BATCH]), profile)
        costs.linked += len(linked)
        decided = costs.timed(
            "consent", partial(decide, _as_consumed(linked, Topic.LINKED.value)), profile
        )
        views = _as_consumed(decided, "ehx.share.")
        costs.views += len(views)
        costs.alerts_changed += costs.timed("timeline", partial(keep, views), profile)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.stages", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--records", type=int, default=4_000, help="incidents (default 4,000)")
    parser.add_argument("--profile", choices=STAGES, help="cProfile this stage and print it")
    args = parser.parse_args(argv)
    costs = asyncio.run(measure(args.records, args.profile))
    per = costs.ms_per_record()
    print(
        f"{costs.records} records, {costs.linked} linked, {costs.views} views, "
        f"{costs.alerts_changed} alerts raised or filled in; CPU ms a record: "
        + ", ".join(f"{k} {v:.3f}" for k, v in per.items())
    )
    if costs.profiles:
        stats = pstats.Stats(costs.profiles[0])
        for more in costs.profiles[1:]:
            stats.add(more)
        stats.sort_stats("cumulative").print_stats(40)


if __name__ == "__main__":
    main()
