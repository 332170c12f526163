"""Replay attack: accepted events published again change nothing downstream, and each
replay is on the audit ledger (with where it first arrived and where it came again).

200 events in CI (the pipeline's own speed is measured elsewhere);
``EHX_FAULT_SCALE=5`` makes it the 1,000 of the fault-test plan.
"""

from __future__ import annotations

import os
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer
from sqlalchemy import Engine, func, select

from ehx.audit.ledger import AuditLedger
from ehx.broker.topics import Topic
from ehx.consent.store import ConsentStore
from ehx.database import sharing_decisions, timeline_entries
from ehx.schemas import Agency, KeyStore
from tests.conftest import eventually
from tests.records import incident

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

EVENTS = 200 * int(os.environ.get("EHX_FAULT_SCALE", "1"))


def _born(n: int) -> str:
    return (date(1950, 1, 1) + timedelta(days=17 * n)).isoformat()


def _postcode(n: int) -> str:
    return f"B{1 + n % 99} {1 + n // 99 % 9}A{chr(65 + n // 891 % 26)}"


def _count(engine: Engine, table: Any) -> int:
    with engine.connect() as connection:
        return int(connection.execute(select(func.count()).select_from(table)).scalar_one())


async def _send(bootstrap: str, values: list[bytes]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=5)
    await producer.start()
    try:
        sent = [
            await producer.send(Topic.raw(Agency.POLICE), value, key=b"replay") for value in values
        ]
        for future in sent:
            await future
    finally:
        await producer.stop()


async def test_events_published_again_add_nothing_and_each_is_recorded_as_a_replay(
    pipeline: tuple[str, Engine, KeyStore],
) -> None:
    bootstrap, engine, keys = pipeline
    run = uuid.uuid4().hex[:6]
    # A family each (another household each): one family's history is not the test here.
    events = [
        incident(f"WMP-R-{run}-{n}", f"WMP-P-{run}-{n}", "Ada", _born(n), _postcode(n))
        for n in range(EVENTS)
    ]
    signer = keys.signer(Agency.POLICE)
    wire = signer.sign_batch_to_wire(events)
    ids = {str(e.event_id) for e in events}
    await _send(bootstrap, wire)
    store = ConsentStore(engine)
    await eventually(lambda: ids <= store.decided(sorted(ids)), timeout=60 + EVENTS / 20)
    # Each event gives the early help hub an indicator: wait for all of them.
    await eventually(lambda: _count(engine, timeline_entries) >= EVENTS, timeout=120)
    # Settled: what the replay must not change.
    before = (_count(engine, timeline_entries), _count(engine, sharing_decisions))
    started = datetime.now(UTC)

    await _send(bootstrap, wire)  # the same signed bytes, again
    ledger = AuditLedger(engine)

    def replays() -> set[str]:
        found = ledger.find(actions=["record.replayed"], since=started)
        return {e for f in found for e in f.record.event_ids} & ids

    await eventually(lambda: replays() == ids, timeout=60 + EVENTS / 20)
    after = (_count(engine, timeline_entries), _count(engine, sharing_decisions))
    assert after == before
    [sample, *_] = ledger.find(actions=["record.replayed"], since=started)
    assert "published again" in sample.record.purpose and "first at" in sample.record.purpose
