"""Ingest throughput per agency on the embedded broker, against a bare aiokafka producer.

Each measurement runs in its own process (so peak RSS is that run's alone) against a
fresh broker (tansu's memory store never frees memory). The baseline publishes the same
number of messages of the same size with a plain aiokafka producer on the same broker.
"""

from __future__ import annotations

import asyncio
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaProducer

from ehx.broker.admin import apply_topology
from ehx.broker.embedded import EmbeddedBroker
from ehx.broker.settings import BrokerSettings
from ehx.schemas import Agency, KeyStore


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def _ingest(bootstrap: str, agency: Agency, path: Path, workdir: Path) -> dict[str, Any]:
    from ehx.ingesting import ingest_files

    keys = KeyStore(workdir / "keys")
    keys.init()
    started = time.perf_counter()
    summary = await ingest_files(
        bootstrap, agency, [path], keys=keys, database_url=f"sqlite:///{workdir / 'b.db'}"
    )
    seconds = time.perf_counter() - started
    return {
        "records": summary.records,
        "accepted": summary.accepted,
        "refused": len(summary.refused),
        "seconds": seconds,
        "records_per_second": summary.records / seconds,
        "peak_rss_mb": peak_rss_mb(),
    }


async def _baseline(bootstrap: str, count: int, size: int) -> dict[str, Any]:
    """A bare aiokafka producer: the same count of same-size messages, acks from all."""
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks="all", linger_ms=5, max_batch_size=512 * 1024
    )
    await producer.start()
    payload = b"x" * size
    started = time.perf_counter()
    try:
        for start in range(0, count, 500):
            futures = [
                await producer.send("ehx.bench.baseline", payload, key=str(i).encode())
                for i in range(start, min(start + 500, count))
            ]
            await asyncio.gather(*futures)
    finally:
        await producer.stop()
    seconds = time.perf_counter() - started
    return {"records": count, "seconds": seconds, "records_per_second": count / seconds}


def worker(argv: list[str]) -> None:
    """Entry point of a measuring subprocess: prints one JSON line."""
    mode, bootstrap = argv[0], argv[1]
    if mode == "ingest":
        agency, path, workdir = Agency(argv[2]), Path(argv[3]), Path(argv[4])
        result = asyncio.run(_ingest(bootstrap, agency, path, workdir))
    else:
        result = asyncio.run(_baseline(bootstrap, int(argv[2]), int(argv[3])))
    sys.stdout.write(json.dumps(result) + "\n")


def _run(args: list[str]) -> dict[str, Any]:
    completed = subprocess.run(
        [sys.executable, "-m", "bench.ingest", *args],
        capture_output=True,
        text=True,
        check=True,
        timeout=1800,
    )
    result: dict[str, Any] = json.loads(completed.stdout.strip().splitlines()[-1])
    return result


def measure(agency: Agency, path: Path, records: int, event_bytes: int) -> dict[str, Any]:
    """One repetition: a fresh broker, the ingest run, then the baseline on the same broker."""
    with tempfile.TemporaryDirectory() as scratch, EmbeddedBroker() as broker:
        asyncio.run(apply_topology(broker.bootstrap, BrokerSettings()))
        ingest = _run(["ingest", broker.bootstrap, agency.value, str(path), scratch])
        baseline = _run(["baseline", broker.bootstrap, str(records), str(event_bytes)])
    return {"ingest": ingest, "baseline": baseline}


if __name__ == "__main__":
    worker(sys.argv[1:])
