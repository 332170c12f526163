"""Test helpers: a recording publisher and the shared example files."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Sequence
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from ehx.broker.publishing import OutboundMessage

EXAMPLES = Path(str(resources.files("ehx") / "examples"))


class RecordingPublisher:
    """A ``MessagePublisher`` fake for unit tests: keeps what it was given."""

    def __init__(self, fail_times: int = 0) -> None:
        self.messages: list[OutboundMessage] = []
        self._fail_times = fail_times

    async def publish(self, messages: Sequence[OutboundMessage]) -> None:
        if self._fail_times:
            self._fail_times -= 1
            raise ConnectionError("broker went away")
        self.messages.extend(messages)

    def on(self, topic: str) -> list[OutboundMessage]:
        return [m for m in self.messages if m.topic == topic]


async def create_topic(bootstrap: str, name: str, partitions: int = 1) -> str:
    """Create ``name`` with ``partitions`` (replication 1); returns the name."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(name, partitions, 1)])
    finally:
        await admin.close()
    return name


async def read_records(bootstrap: str, topic: str, count: int) -> list[Any]:
    """The first ``count`` records on ``topic`` (fewer if it goes quiet for 2 s), raw."""
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=None,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    found: list[Any] = []
    try:
        while len(found) < count:
            batch = await consumer.getmany(timeout_ms=2_000, max_records=5_000)
            if not batch:
                break
            found += [r for rs in batch.values() for r in rs]
    finally:
        await consumer.stop()
    return found


async def read_json(
    bootstrap: str,
    topic: str,
    keep: Callable[[dict[str, Any]], bool],
    *,
    count: int | None = None,
    timeout: float = 30.0,
    quiet_polls: int = 4,
) -> list[tuple[bytes, dict[str, Any]]]:
    """(key, body) of each JSON object on ``topic`` that ``keep`` accepts, from the start.

    A consumer of no group (every partition, from the start: no group to join, so no
    rebalance delay) reads until ``count`` have come or, without a count, until the topic
    has been quiet for ``quiet_polls`` polls: the embedded broker's high watermark cannot
    say where the end is.
    """
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=None,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    found: list[tuple[bytes, dict[str, Any]]] = []
    try:
        deadline = asyncio.get_running_loop().time() + timeout
        quiet = 0
        while asyncio.get_running_loop().time() < deadline:
            if count is not None and len(found) >= count:
                break
            if count is None and quiet >= quiet_polls:
                break
            batch = await consumer.getmany(timeout_ms=500)
            records = [r for rs in batch.values() for r in rs]
            quiet = 0 if records else quiet + 1
            for record in records:
                try:
                    body = json.loads(record.value)
                except ValueError:
                    continue  # the poison test leaves bytes that are no JSON on shared topics
                if not isinstance(body, dict):
                    continue
                if keep(body):
                    found.append((record.key, body))
    finally:
        await consumer.stop()
    return found


def cli_environment(monkeypatch: pytest.MonkeyPatch, data_dir: Path, bootstrap: str) -> None:
    """``ehx`` commands as an operator runs them: this data directory (its SQLite
    database and keys) and this broker, whatever the machine's environment says."""
    for name in ("EHX_DATABASE_URL", "EHX_KEY_DIR", "EHX_KEY_PASSPHRASE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("EHX_DATA_DIR", str(data_dir))
    monkeypatch.setenv("EHX_BOOTSTRAP_SERVERS", bootstrap)
