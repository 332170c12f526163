"""Fault runs: the services as separate processes under a stream, while something goes wrong.

A synthetic city's records (four agencies, families across them) stream through the
adapters into the real pipeline, one process per service as ``ehx services --only``
runs them, while a *disruption* runs alongside: services killed (SIGKILL) or stopped
(SIGTERM) and started again, a service paused (SIGSTOP) past its session timeout, the
broker paused, the database stopped hard and started again, or the stream itself bursts
to ten times its rate. Then ``bench/checker.py`` compares everything acknowledged at the
input with everything that arrived, stage by stage; lost, duplicated and out-of-order
lists must all be empty. Each run also reports how long the backlog took to clear after
the stream ended, and how long records took from accepted to MASH alert.

Used by the tests in ``tests/integration/test_faults.py`` (short runs) and by ``ehx bench
--suite faults`` (the long ones, ``run``).
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import orjson
from sqlalchemy import Engine, func, select
from sqlalchemy.exc import OperationalError

from bench.checker import Check, accepted_events, check
from bench.city import SourceRecord, generate_city
from bench.kafka_cluster import KafkaCluster, acting_as, running_cluster
from bench.postgres import PostgresUnavailable, PrivateCluster
from ehx.adapters import ADAPTERS
from ehx.adapters.framing import RawRecord
from ehx.adapters.ingest import Ingestor
from ehx.adapters.registry import RecordRegistry
from ehx.broker.publishing import KafkaPublisher
from ehx.broker.settings import BrokerSettings
from ehx.database import (
    alerts,
    audit_ledger,
    linker_mentions,
    migrate,
    open_engine,
    received_events,
    sharing_decisions,
    source_records,
    timeline_entries,
)
from ehx.runtime import SERVICES
from ehx.schemas import Agency, KeySettings, KeyStore

#: Records handed to the pipeline per agency batch.
CHUNK = 100
#: The services' consumer session timeout (``build_services``): a pause longer than this
#: gets a consumer evicted from its group, and its late work must be fenced.
SESSION_TIMEOUT_S = 10.0


@dataclass
class ServiceProcesses:
    """``ehx services --only NAME`` processes, started, stopped, paused and started again."""

    bootstrap: str
    env: dict[str, str]
    logs: Path
    #: What one service's process adds to ``env``: on a cluster with ACLs, its own
    #: principal (``EHX_SASL_USERNAME``, ``EHX_SASL_PASSWORD``).
    own: Callable[[str], dict[str, str]] = lambda _: {}
    running: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    starts: Counter[str] = field(default_factory=Counter)

    def start(self, name: str) -> None:
        self.starts[name] += 1
        log = (self.logs / f"{name}-{self.starts[name]}.log").open("wb")
        command = [sys.executable, "-m", "ehx", "services", "--bootstrap", self.bootstrap]
        self.running[name] = subprocess.Popen(
            [*command, "--only", name],
            env=self.env | self.own(name),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()

    def stop(self, name: str, how: signal.Signals) -> None:
        process = self.running.pop(name)
        process.send_signal(how)
        process.wait(60)

    def signal(self, name: str, how: signal.Signals) -> None:
        self.running[name].send_signal(how)

    def stop_all(self) -> None:
        for name, process in list(self.running.items()):
            process.send_signal(signal.SIGCONT)  # a paused process cannot stop
            self.stop(name, signal.SIGTERM)


#: Records a second at ``t`` seconds into the stream.
Rate = Callable[[float], float]


def steady(rate: float) -> Rate:
    return lambda _: rate


def burst(normal: float, factor: float, start: float, seconds: float) -> Rate:
    """``normal``, then ``factor`` times it from ``start`` for ``seconds``, then normal."""
    return lambda t: normal * factor if start <= t < start + seconds else normal


@dataclass
class Stage:
    """What a disruption may act on while the stream runs."""

    services: ServiceProcesses
    rng: random.Random
    #: How long the stream should take at its rate (a disruption spreads itself over it).
    seconds: float
    engine: Engine
    broker: subprocess.Popen[bytes] | None = None
    database: PrivateCluster | None = None


#: Runs alongside the stream; returns what it did, for the report.
Disruption = Callable[[Stage], Awaitable[list[dict[str, Any]]]]


def kills(count: int, how: signal.Signals = signal.SIGKILL) -> Disruption:
    """Stop a random service ``count`` times at random moments and start it again."""

    async def disrupt(stage: Stage) -> list[dict[str, Any]]:
        gap = max(2.0, stage.seconds / (count + 1))
        done = []
        for _ in range(count):
            await asyncio.sleep(stage.rng.uniform(gap * 0.5, gap * 1.5))
            name = stage.rng.choice(SERVICES)
            await asyncio.to_thread(stage.services.stop, name, how)
            down = stage.rng.uniform(0.2, 1.5)
            await asyncio.sleep(down)
            stage.services.start(name)
            done.append({"service": name, "signal": how.name, "down_seconds": round(down, 2)})
        return done

    return disrupt


def pauses(names: Sequence[str], seconds: float = 2 * SESSION_TIMEOUT_S) -> Disruption:
    """SIGSTOP each named service in turn past its session timeout, then SIGCONT it.

    Its group evicts it while it sleeps; when it wakes, whatever it was doing commits
    nothing, and its batch is read again: its late output must change nothing twice.
    """

    async def disrupt(stage: Stage) -> list[dict[str, Any]]:
        gap = max(1.0, (stage.seconds - seconds * len(names)) / (len(names) + 1))
        done = []
        for name in names:
            await asyncio.sleep(gap)
            stage.services.signal(name, signal.SIGSTOP)
            await asyncio.sleep(seconds)
            stage.services.signal(name, signal.SIGCONT)
            done.append({"service": name, "signal": "SIGSTOP", "paused_seconds": seconds})
        return done

    return disrupt


def broker_pause(seconds: float = 30.0, after: float = 0.3) -> Disruption:
    """SIGSTOP the broker ``after`` that share of the stream, for ``seconds``."""

    async def disrupt(stage: Stage) -> list[dict[str, Any]]:
        if stage.broker is None:
            raise RuntimeError("a broker pause needs the broker's process")
        await asyncio.sleep(stage.seconds * after)
        stage.broker.send_signal(signal.SIGSTOP)
        await asyncio.sleep(seconds)
        stage.broker.send_signal(signal.SIGCONT)
        return [{"broker": "SIGSTOP", "paused_seconds": seconds}]

    return disrupt


def database_restart(down: float = 5.0, after: float = 0.4) -> Disruption:
    """Stop PostgreSQL at once (``-m immediate``) ``after`` that share of the stream; start
    it again ``down`` seconds later; time until the pipeline decides something again."""

    async def disrupt(stage: Stage) -> list[dict[str, Any]]:
        if stage.database is None:
            raise RuntimeError("a database restart needs a private PostgreSQL server")
        await asyncio.sleep(stage.seconds * after)
        before = await asyncio.to_thread(_decided, stage.engine)
        await asyncio.to_thread(stage.database.crash)
        await asyncio.sleep(down)
        await asyncio.to_thread(stage.database.start)
        back = time.monotonic()
        recovered = None
        while time.monotonic() - back < 300:
            now = await asyncio.to_thread(_decided_or_none, stage.engine)
            if now is not None and now > before:
                recovered = round(time.monotonic() - back, 1)
                break
            await asyncio.sleep(0.5)
        return [{"database": "immediate stop", "down_seconds": down, "recovered": recovered}]

    return disrupt


def kill_a_leader(
    cluster: KafkaCluster, topic: str = "ehx.linked", down: float = 5.0
) -> Disruption:
    """On a real cluster: SIGKILL the broker leading partition 0 of ``topic`` a third of
    the way in; start it again ``down`` seconds later."""

    async def disrupt(stage: Stage) -> list[dict[str, Any]]:
        await asyncio.sleep(stage.seconds / 3)
        node = await asyncio.to_thread(cluster.leader, topic)
        await asyncio.to_thread(cluster.kill, node)
        await asyncio.sleep(down)
        cluster.start_node(node)
        return [{"broker": node, "signal": "SIGKILL", "led": f"{topic} partition 0"}]

    return disrupt


def pause_a_broker(
    cluster: KafkaCluster, topic: str = "ehx.decisions", seconds: float = 15.0
) -> Disruption:
    """On a real cluster: SIGSTOP the broker leading partition 0 of ``topic`` past its
    session timeout (9 s): the controller fences it, its partitions move, and it comes
    back to a cluster that went on without it."""

    async def disrupt(stage: Stage) -> list[dict[str, Any]]:
        await asyncio.sleep(stage.seconds / 3)
        node = await asyncio.to_thread(cluster.leader, topic)
        cluster.pause(node)
        await asyncio.sleep(seconds)
        cluster.resume(node)
        return [{"broker": node, "signal": "SIGSTOP", "paused_seconds": seconds}]

    return disrupt


def nothing() -> Disruption:
    async def disrupt(stage: Stage) -> list[dict[str, Any]]:
        return []

    return disrupt


def _decided(engine: Engine) -> int:
    with engine.connect() as connection:
        return int(
            connection.execute(select(func.count()).select_from(sharing_decisions)).scalar_one()
        )


def _decided_or_none(engine: Engine) -> int | None:
    try:
        return _decided(engine)
    except OperationalError:
        return None  # not back yet; the pool reconnects on the next try


def _frames(records: Sequence[SourceRecord], offset: int) -> Iterator[RawRecord]:
    for number, record in enumerate(records):
        data = orjson.dumps(record.data)
        yield RawRecord(f"city-{record.agency}", str(offset + number), data, parsed=record.data)


async def stream_city(
    bootstrap: str,
    agency_engine: Engine,
    keys: KeyStore,
    records: Sequence[SourceRecord],
    rate: Rate,
    chunk_size: int = CHUNK,
) -> int:
    """Send the city's records in chunks at ``rate``; how many were accepted.

    A publish the broker cannot take (it is paused, say) waits in the producer; what
    is accepted is only what the broker acknowledged.
    """
    registry = RecordRegistry(agency_engine)
    accepted = 0
    began = time.monotonic()
    due = 0.0  # seconds into the stream at which the next chunk is due
    async with KafkaPublisher(bootstrap, BrokerSettings()) as publisher:
        ingestors = {
            agency: Ingestor(ADAPTERS[agency], registry, keys.signer(agency), publisher)
            for agency in Agency
        }
        for start in range(0, len(records), chunk_size):
            chunk = records[start : start + chunk_size]
            for agency in Agency:
                mine = [r for r in chunk if r.agency == agency.value]
                if not mine:
                    continue

                def frame(
                    _: IO[bytes], __: str, mine: list[SourceRecord] = mine, at: int = start
                ) -> Iterator[RawRecord]:
                    return _frames(mine, at)

                summary = await ingestors[agency].ingest(
                    io.BytesIO(), f"city-{agency.value}", frame=frame
                )
                accepted += summary.accepted
            due += len(chunk) / rate(due)
            await asyncio.sleep(max(0.0, due - (time.monotonic() - began)))
    return accepted


async def wait_until_working(engine: Engine, timeout: float = 180.0) -> None:
    """Until every service has done something: each consumer group has joined."""
    tables = (received_events, linker_mentions, sharing_decisions, timeline_entries, audit_ledger)
    deadline = time.monotonic() + timeout

    def working() -> bool:
        with engine.connect() as connection:
            return all(connection.execute(select(t).limit(1)).first() for t in tables)

    while not await asyncio.to_thread(working):
        if time.monotonic() > deadline:
            raise RuntimeError("the services did not all start working: see the logs")
        await asyncio.sleep(1.0)


async def wait_until_settled(engine: Engine, accepted: dict[str, str], timeout: float) -> Check:
    """Check again and again until nothing is missing or ``timeout`` passes; the last check."""
    deadline = time.monotonic() + timeout
    while True:
        result = await asyncio.to_thread(check, engine, accepted)
        if result.ok or time.monotonic() > deadline:
            return result
        await asyncio.sleep(2.0)


def alert_latency(engine: Engine, agency_engine: Engine, since: datetime) -> dict[str, Any]:
    """Accepted to MASH alert raised, in milliseconds: for each alert, from the newest of
    its events accepted before it was raised (the one that raised it). Only records
    accepted ``since`` count: the warm-up's wait for the groups to join is not latency."""
    with agency_engine.connect() as connection:
        published = {
            event_id: at if at.tzinfo else at.replace(tzinfo=UTC)
            for ids, at in connection.execute(
                select(source_records.c.event_ids, source_records.c.published_at)
            )
            if at is not None
            for event_id in ids
        }
    with engine.connect() as connection:
        rows = connection.execute(select(alerts.c.event_ids, alerts.c.raised_at)).all()
    waits = []
    for event_ids, raised in rows:
        raised = raised if raised.tzinfo else raised.replace(tzinfo=UTC)
        before = [published[e] for e in event_ids if e in published and published[e] <= raised]
        if before and max(before) >= since:
            waits.append((raised - max(before)).total_seconds() * 1000)
    if not waits:
        return {"alerts": 0}
    waits.sort()
    return {
        "alerts": len(waits),
        "p50_ms": round(waits[len(waits) // 2]),
        "p99_ms": round(waits[min(len(waits) - 1, int(len(waits) * 0.99))]),
        "max_ms": round(waits[-1]),
    }


async def fault_run(
    bootstrap: str,
    database_url: str,
    work: Path,
    *,
    people: int,
    disrupt: Disruption,
    rate: Rate,
    stream_seconds: float,
    seed: int = 7,
    settle_seconds: float | None = None,
    broker: subprocess.Popen[bytes] | None = None,
    database: PrivateCluster | None = None,
    limit: int | None = None,
    own: Callable[[str], dict[str, str]] = lambda _: {},
) -> dict[str, Any]:
    """One run: stream a city of ``people`` (its first ``limit`` records) at ``rate``
    while ``disrupt`` runs; check. ``own``: what each service's process adds to the
    environment (its principal on a cluster with ACLs; the stream publishes as this one).

    The first chunk of records warms the pipeline up (every group joined); the rest is
    streamed (``stream_seconds``: how long that should take, for the disruption to
    spread itself over). The pipeline then has ``settle_seconds`` (by default five
    minutes, more for a long stream) to hold everything acknowledged.
    """
    rng = random.Random(seed)
    # Encrypted with EHX_KEY_PASSPHRASE where it is set (the services refuse plain keys
    # against a cluster with SASL or TLS).
    keys = KeyStore(work / "keys", KeySettings().key_passphrase)
    keys.init()
    engine = open_engine(database_url)
    migrate(engine)
    agency_engine = open_engine(f"sqlite:///{work / 'agencies.db'}")
    migrate(agency_engine)
    env = {
        **os.environ,
        "EHX_DATABASE_URL": database_url,
        "EHX_KEY_DIR": str(work / "keys"),
        "EHX_DATA_DIR": str(work),
    }
    services = ServiceProcesses(bootstrap, env, work, own)
    city = generate_city(people, seed)
    records = city.records[:limit] if limit else city.records
    started = time.monotonic()
    try:
        for name in SERVICES:
            services.start(name)
        warm, rest = records[:CHUNK], records[CHUNK:]
        await stream_city(bootstrap, agency_engine, keys, warm, steady(1000.0))
        await wait_until_working(engine)
        stage = Stage(services, rng, stream_seconds, engine, broker, database)
        clock = datetime.now(UTC)
        streaming = asyncio.create_task(stream_city(bootstrap, agency_engine, keys, rest, rate))
        done = await disrupt(stage)
        await streaming
        ended = time.monotonic()
        accepted = accepted_events(agency_engine)
        settle = settle_seconds or max(300.0, len(records) / 50)
        result = await wait_until_settled(engine, accepted, settle)
        cleared = round(time.monotonic() - ended, 1)
        latency = await asyncio.to_thread(alert_latency, engine, agency_engine, clock)
    finally:
        services.stop_all()
        engine.dispose()
        agency_engine.dispose()
    report = {
        "records": len(records),
        "disruptions": done,
        "seconds": round(time.monotonic() - started, 1),
        "backlog_cleared_seconds": cleared if result.ok else None,
        "alert_latency": latency,
        "check": result.as_dict(),
        "ok": result.ok,
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    (work / "fault-run.json").write_text(json.dumps(report, indent=2))
    return report


def scenarios(records: int, rate: float) -> list[tuple[str, Disruption, Rate, float, int]]:
    """The long version's runs: (name, disruption, rate, stream seconds, records).

    Each fault strikes a stream of ``records`` at ``rate``; the burst is ten times a
    normal rate of a tenth of ``rate``, for 60 seconds, with 20 seconds either side.
    """
    seconds = records / rate
    normal = rate / 10
    burst_records = int(normal * (20 + 10 * 60 + 20))
    steady_stream = (steady(rate), seconds, records)
    return [
        ("kill", kills(12, signal.SIGKILL), *steady_stream),
        ("term", kills(12, signal.SIGTERM), *steady_stream),
        ("pause each service", pauses(SERVICES), *steady_stream),
        ("pause the broker", broker_pause(30.0), *steady_stream),
        ("restart PostgreSQL", database_restart(), *steady_stream),
        ("burst", nothing(), burst(normal, 10.0, 20.0, 60.0), 100.0, burst_records),
    ]


def cluster_run(people: int, rate: float, say: Callable[[str], None] = print) -> dict[str, Any]:
    """The long version on Apache Kafka itself (``ehx bench --suite faults-cluster``):
    three KRaft brokers with deploy/'s settings and ACLs (bench/kafka_cluster.py), each
    service its own principal, a broker killed or paused while the city streams."""
    from ehx.broker.admin import apply_topology

    runs: list[dict[str, Any]] = []
    records = len(generate_city(people, 7).records)
    seconds = records / rate
    with (
        tempfile.TemporaryDirectory() as scratch,
        contextlib.contextmanager(running_cluster)(Path(scratch) / "cluster") as cluster,
    ):
        # The stream publishes as the API's principal; the admin applies the topology.
        admin = cluster.settings("ehx-admin")
        asyncio.run(apply_topology(cluster.bootstrap, admin))
        for name, disrupt in (
            ("kill the leader of ehx.linked", kill_a_leader(cluster)),
            ("pause a broker past its session timeout", pause_a_broker(cluster)),
        ):
            say(f"faults on the cluster: {name}: {records:,} records")
            with tempfile.TemporaryDirectory() as run_scratch, acting_as(cluster, "ehx-api"):
                work = Path(run_scratch)
                report = asyncio.run(
                    fault_run(
                        cluster.bootstrap,
                        f"sqlite:///{work / 'ehx.db'}",
                        work,
                        people=people,
                        disrupt=disrupt,
                        rate=steady(rate),
                        stream_seconds=seconds,
                        own=cluster.principal_env,
                    )
                )
            cluster.whole()
            say(f"faults on the cluster: {name}: {'ok' if report['ok'] else 'FAILED'}")
            runs.append({"scenario": name, "rate": rate, "database": "sqlite"} | report)
    return {"runs": runs, "skipped": []}


def run(
    people: int,
    rate: float,
    say: Callable[[str], None] = print,
    only: Sequence[str] = (),
) -> dict[str, Any]:
    """The long version for ``ehx bench --suite faults``: every scenario on a fresh embedded
    broker and a private PostgreSQL server (the restart needs one; the others use it too,
    as production would). Without PostgreSQL here, SQLite, and the restart is skipped."""
    from ehx.broker.admin import apply_topology
    from ehx.broker.embedded import EmbeddedBroker

    runs: list[dict[str, Any]] = []
    skipped: list[str] = []
    records = len(generate_city(people, 7).records)
    for name, disrupt, profile, seconds, count in scenarios(records, rate):
        if only and name not in only:
            continue
        with tempfile.TemporaryDirectory() as scratch, contextlib.ExitStack() as stack:
            work = Path(scratch)
            try:
                database: PrivateCluster | None = stack.enter_context(PrivateCluster())
            except PostgresUnavailable as exc:
                database = None
                if name == "restart PostgreSQL":
                    skipped.append(f"{name}: {exc}")
                    continue
            url = database.url if database else f"sqlite:///{work / 'ehx.db'}"
            say(f"faults: {name}: {count:,} records")
            broker = stack.enter_context(EmbeddedBroker(log_path=work / "broker.log"))
            asyncio.run(apply_topology(broker.bootstrap, BrokerSettings()))
            report = asyncio.run(
                fault_run(
                    broker.bootstrap,
                    url,
                    work,
                    people=people,
                    disrupt=disrupt,
                    rate=profile,
                    stream_seconds=seconds,
                    broker=broker.process,
                    database=database,
                    limit=count,
                )
            )
        say(f"faults: {name}: {'ok' if report['ok'] else 'FAILED'} {report['check']}")
        runs.append({"scenario": name, "rate": rate, "database": url.split(":")[0]} | report)
    return {"runs": runs, "skipped": skipped}
