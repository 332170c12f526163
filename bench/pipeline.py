"""The whole pipeline's throughput, against a bare aiokafka passthrough on the same broker.

Pipeline: a synthetic city's records go through the adapters (validation, mapping,
signing) onto ``ehx.raw.*`` as fast as the driver can send them, in batches of about
500 per agency as a file import sends them, then through intake,
the linker, consent (every recipient decided, views sealed), the timeline service (with
alerts) and the audit ledger, one process per service on the embedded default (SQLite).
The clock runs from the first record sent until the last stage stops moving; the run
then passes the fault runs' checker (nothing lost or duplicated).

Baseline, same run, same broker: the events the adapters published, copied onto a topic
of their own and then moved by a bare aiokafka consumer and producer (``getmany`` in
batches, ``send`` each, acknowledged per batch) to another topic.

And how many messages the topology itself carries an event (every ``ehx.`` topic counted
after the run): a passthrough moves one message an event, the pipeline several (the raw
and linked event, a decision for each recipient, the views, the audit records), so the
passthrough's rate divided by that count is the most the pipeline's messages could move
on this broker with no other work at all, the bound the design sets before any code runs.

Each service is sampled with py-spy while the pipeline runs (if py-spy is installed), and
its resident memory is read from ``/proc``; the report names each service's busiest
frames of our own code.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from sqlalchemy import Engine, func, select

from bench.checker import accepted_events, check
from bench.city import generate_city
from bench.faults import ServiceProcesses, steady, stream_city, wait_until_working
from bench.kafka_cluster import ADMIN, acting_as, running_cluster
from bench.report import cpu_seconds, spread
from ehx.broker.admin import apply_topology
from ehx.broker.embedded import EmbeddedBroker
from ehx.broker.settings import BrokerSettings
from ehx.broker.topics import RAW_TOPICS, SPECS, Topic
from ehx.database import (
    audit_ledger,
    linker_mentions,
    migrate,
    open_engine,
    received_events,
    sharing_decisions,
    timeline_entries,
)
from ehx.runtime import SERVICES
from ehx.schemas import KeySettings, KeyStore

#: What each stage leaves in the database, counted to see when it stops moving.
PROGRESS = {
    "intake": select(func.count()).select_from(received_events),
    "linker": select(func.count()).select_from(linker_mentions),
    "consent": select(func.count()).select_from(sharing_decisions),
    "timeline": select(func.count()).select_from(timeline_entries),
    "audit": select(func.count()).select_from(audit_ledger),
}
#: Records per send: about 500 per agency, the batch ``ehx ingest`` reads a file in.
#: (The fault runs send 100 at a time, to spread a slow stream evenly.)
IMPORT_CHUNK = 2_000
#: The stages have stopped when nothing has moved for this long after the stream.
QUIET_SECONDS = 6.0


def _progress(engine: Engine) -> dict[str, int]:
    with engine.connect() as connection:
        return {name: int(connection.execute(q).scalar_one()) for name, q in PROGRESS.items()}


def _cpu_now(services: ServiceProcesses, target: Target) -> dict[str, float]:
    """CPU seconds so far of each service, the brokers and this driver process."""
    cpu = {name: cpu_seconds(p.pid) for name, p in services.running.items()}
    if target.processes:
        cpu["broker"] = sum(cpu_seconds(p.pid) for p in target.processes)
    cpu["driver (adapters)"] = time.process_time()
    return cpu


def _rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


async def _settle(
    engine: Engine, services: ServiceProcesses, started: float, rss: dict[str, float]
) -> tuple[dict[str, float], dict[str, int]]:
    """Poll each stage's count until all stop moving; when each last moved (seconds)."""
    last: dict[str, int] = {}
    moved: dict[str, float] = {}
    while True:
        counts = await asyncio.to_thread(_progress, engine)
        now = time.monotonic()
        for name, count in counts.items():
            if count != last.get(name):
                moved[name] = now - started
        last = counts
        for name, process in services.running.items():
            rss[name] = max(rss.get(name, 0.0), _rss_mb(process.pid))
        if now - started - max(moved.values()) > QUIET_SECONDS:
            return moved, counts
        await asyncio.sleep(1.0)


def _profile(services: ServiceProcesses, seconds: float, work: Path) -> dict[str, Path]:
    """Start py-spy on each service for ``seconds``; the raw outputs to read afterwards."""
    spy = shutil.which("py-spy")
    if spy is None:
        return {}
    outputs = {}
    for name, process in services.running.items():
        out = work / f"profile-{name}.txt"
        subprocess.Popen(
            [
                spy,
                "record",
                "--pid",
                str(process.pid),
                "--duration",
                str(int(seconds)),
                "--rate",
                "50",
                "--format",
                "raw",
                "--output",
                str(out),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        outputs[name] = out
    return outputs


#: Leaf frames of a thread that is waiting, not working (py-spy cannot always tell).
WAITING = (
    "select (selectors",
    "_worker (concurrent/futures/thread",
    "Condition.wait (threading",
    "Queue.get (queue",
    "WorkerThread.run (anyio",
)


def _waiting(leaf: str) -> bool:
    return leaf.strip() in ("", "()") or any(frame in leaf for frame in WAITING)


def hot_frames(raw: Path, top: int = 5) -> dict[str, Any]:
    """From py-spy's raw output: how busy the process was, and its busiest frames of our
    own code (inclusive share of busy samples), and of anything (exclusive share)."""
    ours = (
        "adapters/",
        "alerts/",
        "audit/",
        "broker/",
        "consent/",
        "database/",
        "intake/",
        "linker/",
        "schemas/",
        "timeline/",
    )
    busy = 0
    inclusive: collections.Counter[str] = collections.Counter()
    exclusive: collections.Counter[str] = collections.Counter()
    if not raw.exists():
        return {}
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        frames = stack.split(";")
        if not count.isdigit() or "(idle)" in frames[0] or _waiting(frames[-1]):
            continue
        n = int(count)
        busy += n
        names = [f.split(" (")[0] + " (" + f.split(" (")[-1].split(":")[0] + ")" for f in frames]
        exclusive[names[-1]] += n
        for name in set(names):
            if name.rpartition(" (")[2].startswith(ours):  # a path of this project's
                inclusive[name] += n
    if not busy:
        return {"busy_samples": 0}
    return {
        "busy_samples": busy,
        "ours": [(f, round(n / busy, 3)) for f, n in inclusive.most_common(top)],
        "leaves": [(f, round(n / busy, 3)) for f, n in exclusive.most_common(top)],
    }


@dataclass
class Target:
    """The brokers a run measures on: a fresh embedded broker, or the three-node Apache
    Kafka cluster (bench/kafka_cluster.py) with each service as its own principal."""

    bootstrap: str
    #: aiokafka options for the baseline's and the reader's own clients (its principal).
    options: dict[str, Any]
    replicas: int
    processes: list[subprocess.Popen[bytes]]
    own: Callable[[str], dict[str, str]] = lambda _: {}


@contextlib.contextmanager
def _embedded(work: Path) -> Iterator[Target]:
    with EmbeddedBroker(log_path=work / "broker.log") as broker:
        asyncio.run(apply_topology(broker.bootstrap, BrokerSettings()))
        yield Target(broker.bootstrap, {}, 1, [broker.process] if broker.process else [])


@contextlib.contextmanager
def _on_cluster(work: Path) -> Iterator[Target]:
    with contextlib.contextmanager(running_cluster)(work / "cluster") as cluster:
        # The admin applies the topology, and the baseline's bare clients and the topic
        # reader act as it; the stream publishes as the API's principal.
        with acting_as(cluster, ADMIN) as options:
            asyncio.run(apply_topology(cluster.bootstrap, BrokerSettings()))
        with acting_as(cluster, "ehx-api"):
            yield Target(
                cluster.bootstrap,
                options,
                3,
                [n.process for n in cluster.nodes.values() if n.process is not None],
                cluster.principal_env,
            )


async def measure_pipeline(
    people: int, seed: int, work: Path, profile: bool, target: Target
) -> dict[str, Any]:
    """One pipeline run on ``target``'s fresh brokers; the raw events it carried, for the
    baseline."""
    keys = KeyStore(work / "keys", KeySettings().key_passphrase)
    keys.init()
    url = f"sqlite:///{work / 'ehx.db'}"
    engine = open_engine(url)
    migrate(engine)
    agency_engine = open_engine(f"sqlite:///{work / 'agencies.db'}")
    migrate(agency_engine)
    city = generate_city(people, seed)
    bootstrap = target.bootstrap
    env = {
        **os.environ,
        "EHX_DATABASE_URL": url,
        "EHX_KEY_DIR": str(work / "keys"),
        "EHX_DATA_DIR": str(work),
    }
    services = ServiceProcesses(bootstrap, env, work, target.own)
    rss: dict[str, float] = {}
    try:
        for name in SERVICES:
            services.start(name)
        warm, rest = city.records[:100], city.records[100:]
        await stream_city(bootstrap, agency_engine, keys, warm, steady(1e6))
        await wait_until_working(engine)
        before = await asyncio.to_thread(_progress, engine)
        await asyncio.sleep(QUIET_SECONDS)  # the warm-up's tail, off the clock
        profiles = _profile(services, 30.0, work) if profile else {}
        cpu_before = _cpu_now(services, target)
        started = time.monotonic()
        sent = await stream_city(
            bootstrap, agency_engine, keys, rest, steady(1e6), chunk_size=IMPORT_CHUNK
        )
        sending = time.monotonic() - started
        moved, counts = await _settle(engine, services, started, rss)
        cpu_after = _cpu_now(services, target)
    finally:
        services.stop_all()
    accepted = accepted_events(agency_engine)
    verdict = await asyncio.to_thread(check, engine, accepted)
    carried, events = await read_topics(bootstrap, keep=RAW_TOPICS, options=target.options)
    baseline = await passthrough(bootstrap, events, target.options, target.replicas)
    engine.dispose()
    agency_engine.dispose()
    seconds = max(moved.values())
    return {
        "records": len(rest),
        "events": sent,
        "send_seconds": round(sending, 1),
        "seconds": round(seconds, 1),
        "records_per_second": len(rest) / seconds,
        "stage_done_seconds": {k: round(v, 1) for k, v in moved.items()},
        "stage_rows": {k: counts[k] - before[k] for k in counts},
        "passthrough_per_second": baseline,
        "ratio": (sent / seconds) / baseline,
        **carrying(carried, len(events), baseline, sent / seconds),
        "peak_rss_mb": {k: round(v) for k, v in rss.items()},
        # Where the two cores went: CPU milliseconds per record, by process (the
        # settle's idle polling is in each, a few seconds' worth of near nothing).
        "cpu_ms_per_record": {
            k: round(1000 * (cpu_after[k] - cpu_before.get(k, 0.0)) / len(rest), 3)
            for k in cpu_after
        },
        "ok": verdict.ok,
        "check": verdict.as_dict(),
        "profile": {name: hot_frames(path) for name, path in profiles.items()},
    }


class TopicsRead(NamedTuple):
    """What ``read_topics`` found: each topic's message count, and the messages kept."""

    counts: dict[str, int]
    kept: list[tuple[bytes | None, bytes]]


async def read_topics(
    bootstrap: str,
    prefix: str = "ehx.",
    keep: Iterable[str] = (),
    options: dict[str, Any] | None = None,
) -> TopicsRead:
    """Every topic named ``prefix...`` read from the start: how many messages each holds,
    and the key and value of each message on the ``keep`` topics.

    Counted, not asked for: tansu's high watermark is wrong, so end offsets are not to be
    trusted there (committed offsets and positions are). One read serves the count and
    the baseline's events (the adapters' events on ``ehx.raw.*``).
    """
    wanted = set(keep)
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False, **(options or {})
    )
    await consumer.start()
    counts: collections.Counter[str] = collections.Counter()
    kept: list[tuple[bytes | None, bytes]] = []
    try:
        topics = sorted(t for t in await consumer.topics() if t.startswith(prefix))
        # Each topic's partitions, asked of the cluster (the consumer's own metadata
        # holds only what it was assigned or subscribed to).
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, **(options or {}))
        await admin.start()
        try:
            described = await admin.describe_topics(topics) if topics else []
        finally:
            await admin.close()
        partitions = [
            TopicPartition(d["topic"], p["partition"])
            for d in described
            for p in sorted(d["partitions"], key=lambda p: p["partition"])
        ]
        if not partitions:
            return TopicsRead({}, [])
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        # Quiet for three polls once reading has begun; a cluster's first fetches (TLS to
        # three brokers, leaders looked up) may take several seconds to answer at all.
        quiet, waited = 0, 0
        while quiet < 3 and waited < 60:
            batch = await consumer.getmany(timeout_ms=1_000, max_records=10_000)
            for tp, records in batch.items():
                counts[tp.topic] += len(records)
                if tp.topic in wanted:
                    kept += [(r.key, r.value or b"") for r in records]
            if counts:
                quiet = 0 if batch else quiet + 1
            else:
                waited += 1
    finally:
        await consumer.stop()
    return TopicsRead(dict(sorted(counts.items())), kept)


def carrying(
    carried: dict[str, int], events: int, passthrough_rate: float, pipeline_rate: float
) -> dict[str, Any]:
    """The messages the topology carried an event, and the rate that bounds the pipeline
    on this broker: the passthrough's, which moves one message an event, divided by them."""
    per_event = sum(carried.values()) / max(1, events)
    bound = passthrough_rate / per_event if per_event else 0.0
    return {
        "messages_by_topic": carried,
        "messages_per_event": round(per_event, 2),
        "topology_bound_per_second": bound,
        "share_of_bound": pipeline_rate / bound if bound else 0.0,
    }


async def passthrough(
    bootstrap: str,
    events: list[tuple[bytes | None, bytes]],
    options: dict[str, Any] | None = None,
    replicas: int = 1,
) -> float:
    """A bare consume→produce passthrough of ``events``: messages per second. On a
    cluster, its topics have the pipeline's replicas, and its clients ``options``."""
    source, sink = "bench.passthrough.in", "bench.passthrough.out"
    options = options or {}
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, **options)
    await admin.start()
    try:
        # As many partitions as the pipeline's family-keyed topics have on this broker.
        count = BrokerSettings().partitions(SPECS[Topic.LINKED].partitions)
        await admin.create_topics(
            [NewTopic(source, count, replicas), NewTopic(sink, count, replicas)]
        )
    finally:
        await admin.close()
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        acks="all",
        linger_ms=5,
        max_batch_size=512 * 1024,
        **options,
    )
    await producer.start()
    consumer = AIOKafkaConsumer(
        source,
        bootstrap_servers=bootstrap,
        group_id="bench-passthrough",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        session_timeout_ms=6_000,
        **options,
    )
    try:
        futures = [await producer.send(source, value, key=key) for key, value in events]
        await asyncio.gather(*futures)  # loaded, off the clock
        await consumer.start()
        moved = 0
        started = None
        while moved < len(events):
            batch = await consumer.getmany(timeout_ms=1_000, max_records=500)
            records = [r for rs in batch.values() for r in rs]
            if not records:
                continue
            started = started or time.monotonic()
            sends = [await producer.send(sink, r.value, key=r.key) for r in records]
            await asyncio.gather(*sends)
            await consumer.commit()
            moved += len(records)
        return moved / (time.monotonic() - (started or time.monotonic()))
    finally:
        # The topics go with the broker, which each run throws away (tansu never frees
        # memory, so long runs are not stacked on one broker).
        await consumer.stop()
        await producer.stop()


def run(
    people: int, repeat: int, say: Callable[[str], None] = print, cluster: bool = False
) -> dict[str, Any]:
    """``ehx bench --suite pipeline``: ``repeat`` runs, each on a fresh broker (with
    ``cluster``, ``--suite pipeline-cluster``: a fresh three-node Apache Kafka cluster)."""
    runs = []
    brokers = _on_cluster if cluster else _embedded
    for rep in range(repeat):
        say(f"pipeline: run {rep + 1} of {repeat}, a city of {people:,} people")
        with tempfile.TemporaryDirectory() as scratch, brokers(Path(scratch)) as target:
            runs.append(
                asyncio.run(measure_pipeline(people, 7 + rep, Path(scratch), rep == 0, target))
            )
        last = runs[-1]
        say(
            f"pipeline: {last['records_per_second']:,.0f} records/s, passthrough "
            f"{last['passthrough_per_second']:,.0f}/s, checked {'ok' if last['ok'] else 'NOT ok'}"
        )
    return {
        "people": people,
        "records_per_second": spread([r["records_per_second"] for r in runs]),
        "passthrough_per_second": spread([r["passthrough_per_second"] for r in runs]),
        "ratio": spread([r["ratio"] for r in runs]),
        "messages_per_event": spread([r["messages_per_event"] for r in runs]),
        "topology_bound_per_second": spread([r["topology_bound_per_second"] for r in runs]),
        "share_of_bound": spread([r["share_of_bound"] for r in runs]),
        "runs": runs,
    }
