"""Adapters → real broker → intake service: every event arrives once; poison is quarantined.

Runs on the session's real broker and on SQLite and PostgreSQL.
"""

from __future__ import annotations

import io
import json
import uuid
from datetime import UTC, datetime

import pytest
from aiokafka import AIOKafkaProducer
from sqlalchemy import Engine, select

from ehx.adapters import ADAPTERS
from ehx.adapters.ingest import Ingestor
from ehx.adapters.registry import RecordRegistry
from ehx.broker.publishing import KafkaPublisher
from ehx.broker.settings import BrokerSettings
from ehx.broker.topics import Topic
from ehx.database import received_events, source_records
from ehx.schemas import Agency, CanonicalEvent, KeyStore
from tests.conftest import eventually
from tests.flows import FILES, quarantined
from tests.helpers import EXAMPLES, read_json

pytestmark = [pytest.mark.kafka, pytest.mark.slow]


def stored_ids(engine: Engine) -> set[str]:
    with engine.connect() as connection:
        return set(connection.execute(select(received_events.c.event_id)).scalars())


async def test_every_example_record_arrives_verified_exactly_once(
    pipeline: tuple[str, Engine, KeyStore],
) -> None:
    bootstrap, engine, keys = pipeline
    events_published = 0
    async with KafkaPublisher(bootstrap, BrokerSettings()) as publisher:
        for agency, names in FILES.items():
            ingestor = Ingestor(
                ADAPTERS[agency], RecordRegistry(engine), keys.signer(agency), publisher
            )
            for name in names:
                for _ in range(2):  # sent twice: published once
                    with (EXAMPLES / name).open("rb") as stream:
                        summary = await ingestor.ingest(stream, name)
                    assert not summary.refused
                    events_published += summary.events_published
    with engine.connect() as connection:
        published = [
            i for row in connection.execute(select(source_records.c.event_ids)) for i in row[0]
        ]
    assert events_published == len(published) == 10
    await eventually(lambda: set(published) <= stored_ids(engine))
    with engine.connect() as connection:
        types = sorted(
            connection.execute(
                select(received_events.c.event_type).where(
                    received_events.c.event_id.in_(published)
                )
            ).scalars()
        )
    assert len(types) == 10
    assert types.count("schools.attendance_summary") == 2 and "police.incident" in types

    # The linker: every event on ehx.linked, keyed by family, four people in one family.
    linked = await read_topic(bootstrap, Topic.LINKED.value, set(published))
    assert sorted(linked) == sorted(published)
    people = {s.person_id for event, _ in linked.values() for s in event.subjects}
    families = {key for _, key in linked.values()}
    assert len(people) == 4
    assert len(families) == 1
    for event, _ in linked.values():
        keys.verifier().verify(event)  # the agency's signature holds on the linked event


async def read_topic(
    bootstrap: str, topic: str, wanted: set[str], timeout: float = 30.0
) -> dict[str, tuple[CanonicalEvent, str]]:
    """The wanted events from a topic, by event id, with their message keys."""
    found = await read_json(
        bootstrap, topic, lambda b: b["event_id"] in wanted, count=len(wanted), timeout=timeout
    )
    return {
        body["event_id"]: (CanonicalEvent.model_validate(body), key.decode()) for key, body in found
    }


async def test_poison_is_quarantined_and_the_good_events_after_it_still_arrive(
    pipeline: tuple[str, Engine, KeyStore],
) -> None:
    bootstrap, engine, keys = pipeline
    line = (EXAMPLES / "police.jsonl").read_bytes().splitlines()[0]
    record = json.loads(line)
    [frame] = ADAPTERS[Agency.POLICE].frame(io.BytesIO(json.dumps(record).encode()), "p")
    event = ADAPTERS[Agency.POLICE].map(frame, datetime.now(UTC)).events[0]
    signed = keys.signer(Agency.POLICE).sign(event)
    tampered = json.loads(signed.to_bytes())
    tampered["payload"]["dash_risk"] = "high"
    forged_health = keys.signer(Agency.POLICE).sign(
        event.model_copy(update={"event_id": uuid.uuid4()})
    )
    good = [
        keys.signer(Agency.POLICE).sign(event.model_copy(update={"event_id": uuid.uuid4()}))
        for _ in range(20)
    ]
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        raw = Topic.raw(Agency.POLICE)
        await producer.send_and_wait(raw, b"\x00 not json", key=b"poison")
        await producer.send_and_wait(raw, json.dumps(tampered).encode(), key=b"poison")
        await producer.send_and_wait(raw, event.to_bytes(), key=b"poison")  # unsigned
        await producer.send_and_wait(
            Topic.raw(Agency.HEALTH), forged_health.to_bytes(), key=b"poison"
        )
        for item in good:
            await producer.send_and_wait(raw, item.to_bytes(), key=b"good")
    finally:
        await producer.stop()
    wanted = {str(item.event_id) for item in good}
    await eventually(lambda: wanted <= stored_ids(engine))
    assert str(signed.event_id) not in stored_ids(engine)
    reasons = [entry.reason for entry in await quarantined(bootstrap, "intake")]
    assert any(r.startswith("not a canonical event") for r in reasons)
    assert "signature does not match the event" in reasons
    assert "unsigned event" in reasons
    assert "event claims agency police but arrived on ehx.raw.health" in reasons
