"""Latency from an agency record accepted to the MASH alert visible, at a steady rate.

The embedded default: a fresh embedded broker, SQLite, and the services either one
process each as ``ehx up`` runs them, or all in one background process (``ehx
services``). A driver in this process sends police domestic abuse incidents (DASH high,
children present: each a significant-harm override, each a new family) at the target
rate, in ticks (the records made beforehand, as an agency's system would have them); a
record's clock starts when the adapter's publish is acknowledged (accepted) and stops
when a reader of the alert queue, looking every 50 ms as the driver runs, first sees the
alert it raises (visible to the screening team: committed, which is after the alert's
own ``raised_at``; the stages' medians still list that stamp).

Each run also says where the CPU went: milliseconds a record by process (each service,
the broker, the driver's adapter), from ``/proc``, from the first record sent until the
services are idle again (the ledger may still be catching up when the last alert is
raised), less what each process spends polling with nothing to do; and how long the
garbage collector stopped each process in that time (each service writes its
collections' timings as it stops: ``EHX_COLLECTOR_REPORTS``), the usual suspect when the
p99 is far above the p50.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import literal_column, select

from bench.report import cpu_seconds
from ehx.adapters import ADAPTERS
from ehx.adapters.ingest import Ingestor
from ehx.adapters.registry import RecordRegistry
from ehx.broker.admin import apply_topology
from ehx.broker.embedded import EmbeddedBroker
from ehx.broker.publishing import KafkaPublisher
from ehx.broker.settings import BrokerSettings
from ehx.database import (
    alerts,
    checkpoint_in_background,
    migrate,
    open_engine,
    source_records,
)
from ehx.schemas import Agency, KeyStore


def _name(rng: random.Random) -> str:
    return "".join(rng.choice("bcdfghjklmnprstvwz") + rng.choice("aeiou") for _ in range(4)).title()


def incident(i: int, rng: random.Random, now: datetime) -> bytes:
    """A DA incident with a child present and DASH high: a new family each time.

    Names, dates of birth and addresses are drawn at random so that the linker, rightly,
    sees a different family in every record.
    """
    occurred = now - timedelta(minutes=30)
    surname = _name(rng)
    address = f"{rng.randrange(1, 999)} {_name(rng)} Road, Birmingham"
    unit = rng.choice("ABDEFGHJ") + rng.choice("LNPQRSTU")
    postcode = f"B{rng.randrange(1, 40)} {rng.randrange(1, 9)}{unit}"
    people = [
        (rng.randrange(1975, 2000), "victim"),
        (rng.randrange(1975, 2000), "suspect"),
        (rng.randrange(2010, 2022), "child_present"),
    ]
    persons = [
        {
            "person_ref": f"WMP-L-{i:07d}-{n}",
            "pnc_id": None,
            "given_name": _name(rng),
            "family_name": surname,
            "date_of_birth": f"{year}-{rng.randrange(1, 13):02d}-{rng.randrange(1, 29):02d}",
            "role": role,
            "address": address,
            "postcode": postcode,
        }
        for n, (year, role) in enumerate(people)
    ]
    record = {
        "incident_ref": f"WMP-LAT-{i:08d}",
        "version": 1,
        "force": "West Midlands Police",
        "occurred_at": occurred.isoformat(),
        "reported_at": (occurred + timedelta(minutes=10)).isoformat(),
        "type": "domestic_abuse",
        "summary": "Synthetic latency benchmark narrative.",
        "location": {"address": address, "postcode": postcode},
        "dash_risk": "high",
        "children_present": True,
        "weapon_involved": False,
        "persons": persons,
        "officer": {"collar_number": "0001", "name": "Bench"},
    }
    return json.dumps(record).encode() + b"\n"


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


#: One process per service, as a deployment scaled out would run them.
SEPARATE = ("intake", "linker", "consent", "timeline", "audit")


async def measure(
    rate: int,
    seconds: float,
    drain: float = 120.0,
    separate: bool = False,
    taken: float = 0.0,
) -> dict[str, Any]:
    """Send ``rate`` records a second for ``seconds``; latencies in milliseconds.

    ``taken``: while the records are sent and until every alert is seen, another process
    keeps this share of one core busy (``other_load``), as other work on a shared machine
    would: how much of the two cores the alert path can lose and still meet its goal.
    """
    with tempfile.TemporaryDirectory() as scratch:
        work = Path(scratch)
        url = f"sqlite:///{work / 'ehx.db'}"
        keys = KeyStore(work / "keys")
        keys.init()
        settings = BrokerSettings()
        with EmbeddedBroker(log_path=work / "broker.log") as broker:
            await apply_topology(broker.bootstrap, settings)
            engine = open_engine(url)
            migrate(engine)
            env = {
                **os.environ,
                "EHX_DATABASE_URL": url,
                "EHX_KEY_DIR": str(work / "keys"),
                "EHX_DATA_DIR": str(work),
                "EHX_COLLECTOR_REPORTS": str(work),
            }
            processes = []
            for group in SEPARATE if separate else (None,):
                only = ["--only", group] if group else []
                with (work / f"services-{group or 'all'}.log").open("wb") as log:
                    processes.append(
                        subprocess.Popen(  # noqa: ASYNC220 - starts it, does not wait
                            [
                                sys.executable,
                                "-m",
                                "ehx",
                                "services",
                                "--bootstrap",
                                broker.bootstrap,
                                *only,
                            ],
                            env=env,
                            stdout=log,
                            stderr=subprocess.STDOUT,
                        )
                    )
            # The driver is an agency system: its record registry is its own database, so
            # its writes do not queue behind the services' on one SQLite file.
            agency = open_engine(f"sqlite:///{work / 'agency.db'}")
            migrate(agency)
            # As the HTTP API does with its registry (database/wal.py).
            checkpoints = checkpoint_in_background(agency)
            names = SEPARATE if separate else ("services",)
            pids = {name: process.pid for name, process in zip(names, processes, strict=True)}
            if broker.process is not None:
                pids["broker"] = broker.process.pid
            try:
                await _warm_up(broker.bootstrap, engine, agency, keys)
                bodies = agency_records(rate, seconds)
                idle = await _idle(pids)
                before, clock, began = _cpu(pids), time.monotonic(), time.time()
                with other_load(taken):
                    result = await _drive(
                        broker.bootstrap, engine, agency, keys, rate, bodies, drain
                    )
                await _quiet(pids, sum(idle.values()))
                elapsed, window = time.monotonic() - clock, (began, time.time())
                # Idle polling taken off; never below nothing (the idle share is a guess).
                spent = {
                    k: max(0.0, v - before[k] - idle[k] * elapsed) for k, v in _cpu(pids).items()
                }
                outcome = {
                    "processes": "one per service" if separate else "one",
                    "cpu_taken_elsewhere": taken,
                    **result,
                    "cpu_ms_per_record": {
                        k: round(1000 * v / max(1, result["records"]), 3) for k, v in spent.items()
                    },
                    "idle_cpu_share": {k: round(v, 3) for k, v in idle.items()},
                }
            finally:
                for process in processes:
                    process.terminate()
                for process in processes:
                    process.wait(30)
                engine.dispose()
                if checkpoints is not None:
                    checkpoints.stop()
                agency.dispose()
            # Written by each service as it stopped (EHX_COLLECTOR_REPORTS).
            outcome["collector_stops"] = collector_stops(work, names, window)
            return outcome


#: A process that keeps ``share`` of a core busy: work for 20 ms periods' share, then sleep.
_BUSY = """
import sys, time
share, period = float(sys.argv[1]), 0.02
while True:
    began = time.perf_counter()
    while time.perf_counter() - began < share * period:
        pass
    time.sleep((1 - share) * period)
"""


@contextlib.contextmanager
def other_load(share: float) -> Iterator[subprocess.Popen[bytes] | None]:
    """Another process busy for ``share`` of one core (at the services' priority) meanwhile."""
    if share <= 0:
        yield None
        return
    busy = subprocess.Popen([sys.executable, "-c", _BUSY, str(share)])
    try:
        yield busy
    finally:
        busy.kill()
        busy.wait(10)


#: ``heap.Stop`` generations as the report names them.
GENERATIONS = ("young", "middle", "full")


def collector_stops(
    work: Path, names: tuple[str, ...], window: tuple[float, float]
) -> dict[str, dict[str, dict[str, float]]]:
    """Each process's garbage collections inside the run: by generation, how many, their
    longest and total stop in milliseconds (what a record waiting behind them waits), and
    the unreachable objects they freed."""
    found: dict[str, dict[str, dict[str, float]]] = {}
    for name in names:
        path = work / f"collector-{name}.json"
        if not path.exists():  # a process that did not stop cleanly wrote nothing
            continue
        by_generation: dict[str, list[tuple[float, int]]] = {}
        for at, generation, seconds, collected in json.loads(path.read_text()):
            if window[0] <= at <= window[1]:
                by_generation.setdefault(GENERATIONS[generation], []).append(
                    (seconds * 1000, collected)
                )
        found[name] = {
            generation: {
                "count": len(stops),
                "longest_ms": round(max(ms for ms, _ in stops), 1),
                "total_ms": round(sum(ms for ms, _ in stops), 1),
                "collected": sum(n for _, n in stops),
            }
            for generation, stops in sorted(by_generation.items())
        }
    return found


def _cpu(pids: dict[str, int]) -> dict[str, float]:
    """CPU seconds so far of each service process, the broker and this driver."""
    return {
        **{name: cpu_seconds(pid) for name, pid in pids.items()},
        "driver (adapter)": time.process_time(),
    }


async def _idle(pids: dict[str, int], seconds: float = 5.0) -> dict[str, float]:
    """Each process's CPU share with nothing to do (consumers poll the broker all the
    time): taken off what the run measures, so what is left is the records' cost."""
    before = _cpu(pids)
    await asyncio.sleep(seconds)
    return {k: max(0.0, v - before[k]) / seconds for k, v in _cpu(pids).items()}


async def _quiet(pids: dict[str, int], idle: float, limit: float = 120.0) -> None:
    """Wait until the services are back to idle (the ledger may still be catching up once
    every alert is raised), so each one's CPU a record counts all of its work."""
    deadline = time.monotonic() + limit
    last = sum(_cpu(pids).values())
    while time.monotonic() < deadline:
        await asyncio.sleep(2.0)
        now = sum(_cpu(pids).values())
        if now - last < 2.0 * idle + 0.1:
            return
        last = now


async def _warm_up(bootstrap: str, engine: Any, agency: Any, keys: KeyStore) -> None:
    """One record through, so every consumer group has joined before the clock runs."""
    registry = RecordRegistry(agency)
    signer = keys.signer(Agency.POLICE)
    async with KafkaPublisher(bootstrap, BrokerSettings()) as publisher:
        ingestor = Ingestor(ADAPTERS[Agency.POLICE], registry, signer, publisher)
        record = incident(10**7, random.Random(0), datetime.now(UTC))
        await ingestor.ingest(io.BytesIO(record), "warm-up")
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        with engine.connect() as connection:
            if connection.execute(select(alerts.c.alert_id)).first():
                return
        await asyncio.sleep(0.2)
    raise RuntimeError("the services never raised the warm-up alert: see services.log")


def _ticks(rate: int) -> tuple[float, int]:
    """How often the driver sends, and how many records each time."""
    tick = 0.1 if rate <= 200 else 0.05
    return tick, max(1, round(rate * tick))


def agency_records(rate: int, seconds: float) -> list[tuple[bytes, int]]:
    """Each tick's records (JSON Lines) and how many they are.

    Made before the clock and the CPU count start: making them is the agency system's
    work, on its own machine, not this one's two cores.
    """
    rng = random.Random(rate)
    _, per_tick = _ticks(rate)
    total = int(rate * seconds)
    now = datetime.now(UTC)
    return [
        (
            b"".join(incident(n, rng, now) for n in range(start, min(start + per_tick, total))),
            min(per_tick, total - start),
        )
        for start in range(0, total, per_tick)
    ]


#: How often the driver looks for new alerts, as a screener's open queue would.
WATCH_EVERY = 0.05


class AlertWatch:
    """When each significant-harm alert's events first became visible to a reader.

    Each look reads only the rows inserted since the last (SQLite's ``rowid``: the
    embedded default), so the observer adds little load to the cores it measures (a
    look at 20,000 alerts: 0.1 ms, where reading them all is 60 ms); every
    ``FILL_INS_EVERY`` looks it also reads the alerts filled in since they were raised
    (an event joining an open alert: the linker put two incidents in one family), by a
    scan of 3 ms. An alert is visible once its transaction has committed, which is
    after the ``raised_at`` the timeline service stamps on it; this measures that, to
    within one interval of the watch.
    """

    FILL_INS_EVERY = 10

    def __init__(self, engine: Any) -> None:
        self._engine = engine
        self._last = self._new_since(-1)[0]
        self._looks = 0
        #: Event id to when its alert was first seen (``time.time()``).
        self.seen: dict[str, float] = {}
        #: Set once every event in ``wanted`` has been seen.
        self.wanted: set[str] | None = None
        self.all_seen = asyncio.Event()

    def _new_since(self, after: int) -> tuple[int, list[list[str]]]:
        rowid: Any = literal_column("rowid")
        with self._engine.connect() as connection:
            rows = connection.execute(
                select(rowid, alerts.c.event_ids)
                .where(rowid > after, alerts.c.kind == "significant_harm")
                .order_by(rowid)
            ).all()
        return (rows[-1][0] if rows else max(after, 0)), [ids for _, ids in rows]

    def _filled_in(self) -> list[list[str]]:
        with self._engine.connect() as connection:
            return list(
                connection.execute(
                    select(alerts.c.event_ids).where(
                        alerts.c.kind == "significant_harm",
                        alerts.c.updated_at > alerts.c.raised_at,
                    )
                ).scalars()
            )

    def _look(self) -> list[list[str]]:
        self._last, found = self._new_since(self._last)
        self._looks += 1
        if self._looks % self.FILL_INS_EVERY == 0:
            found += self._filled_in()
        return found

    async def run(self) -> None:
        while True:
            found = await asyncio.to_thread(self._look)
            stamp = time.time()
            for ids in found:
                for event_id in ids:
                    self.seen.setdefault(event_id, stamp)
            if self.wanted is not None and self.wanted.issubset(self.seen):
                self.all_seen.set()
            await asyncio.sleep(WATCH_EVERY)


async def _drive(
    bootstrap: str,
    engine: Any,
    agency: Any,
    keys: KeyStore,
    rate: int,
    bodies: list[tuple[bytes, int]],
    drain: float,
) -> dict[str, Any]:
    tick, per_tick = _ticks(rate)
    accepted: dict[str, float] = {}
    registry = RecordRegistry(agency)
    watch = AlertWatch(engine)
    watching = asyncio.create_task(watch.run())
    registry_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ehx-registry")
    try:
        # One registry thread for every body, as the HTTP API keeps (an agency posting
        # a few records every tick).
        async with KafkaPublisher(bootstrap, BrokerSettings()) as publisher:
            ingestor = Ingestor(
                ADAPTERS[Agency.POLICE],
                registry,
                keys.signer(Agency.POLICE),
                publisher,
                registry_thread=registry_thread,
            )
            started = time.monotonic()
            sent = 0
            for body, count in bodies:
                due = started + (sent // per_tick) * tick
                await asyncio.sleep(max(0.0, due - time.monotonic()))
                await ingestor.ingest(io.BytesIO(body), "latency")
                done = time.time()
                for n in range(count):
                    accepted[f"WMP-LAT-{sent + n:08d}"] = done
                sent += count
            offered = sent / (time.monotonic() - started)
        with agency.connect() as connection:
            event_of = {
                ref: ids[0]
                for ref, ids in connection.execute(
                    select(source_records.c.record_ref, source_records.c.event_ids)
                )
            }
        watch.wanted = {event_of[ref] for ref in accepted if ref in event_of}
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(watch.all_seen.wait(), drain)
        if watching.done():
            watching.result()  # a watch that failed says why, not "no alerts seen"
    finally:
        watching.cancel()
        registry_thread.shutdown(wait=True)
    stages = _stages(engine, accepted, event_of)
    latencies = [
        (watch.seen[event_of[ref]] - at) * 1000
        for ref, at in accepted.items()
        if event_of.get(ref) in watch.seen
    ]
    return {
        "rate": rate,
        "offered_per_second": round(offered, 1),
        "records": len(accepted),
        "alerts_seen": len(latencies),
        "p50_ms": statistics.median(latencies) if latencies else None,
        "p99_ms": percentile(latencies, 0.99) if latencies else None,
        "max_ms": max(latencies) if latencies else None,
        "stage_p50_ms": stages,
    }


def _stages(
    engine: Any, accepted: dict[str, float], event_of: dict[str, str]
) -> dict[str, float | None]:
    """Median time from acceptance to each stage's own record of the event."""
    from ehx.database import received_events, sharing_decisions

    marks: dict[str, dict[str, float]] = {}
    with engine.connect() as connection:
        for name, query in (
            ("intake_stored", select(received_events.c.event_id, received_events.c.received_at)),
            (
                "consent_decided",
                select(sharing_decisions.c.event_id, sharing_decisions.c.decided_at).where(
                    sharing_decisions.c.recipient == "mash"
                ),
            ),
            ("alert_raised", select(alerts.c.event_ids, alerts.c.raised_at)),
        ):
            found: dict[str, float] = {}
            for key, when in connection.execute(query):
                stamp = (when if when.tzinfo else when.replace(tzinfo=UTC)).timestamp()
                for event_id in key if isinstance(key, list) else [key]:
                    found[event_id] = stamp
            marks[name] = found
    result: dict[str, float | None] = {}
    for name, found in marks.items():
        lags = [
            (found[event_of[ref]] - at) * 1000
            for ref, at in accepted.items()
            if event_of.get(ref) in found
        ]
        result[name] = statistics.median(lags) if lags else None
    return result
