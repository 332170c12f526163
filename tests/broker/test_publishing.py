"""What the services put on the wire: audit messages carry their record, and a batch the
size of a busy consent batch goes through in one call, all of it, in order."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from aiokafka.partitioner import DefaultPartitioner

from ehx.broker.auditing import audit_messages
from ehx.broker.publishing import KafkaPublisher, OutboundMessage
from ehx.broker.settings import BrokerSettings
from ehx.broker.topics import Topic
from ehx.schemas.audit import AuditRecord
from tests.helpers import create_topic, read_records


def _records(n: int) -> list[AuditRecord]:
    return [
        AuditRecord(
            action="decision.deny",
            actor="ehx:consent",
            role="system",
            agency="schools",
            purpose="no consent covers this recipient",
            subject_ids=tuple(f"p{i:08d}" for i in range(i % 7 + 1)),
            event_ids=(f"e{i}",),
            at=datetime.now(UTC),
        )
        for i in range(n)
    ]


def test_an_audit_message_is_its_record_keyed_by_the_actor_with_the_act_in_a_header() -> None:
    records = _records(3)
    messages = audit_messages(records)
    assert [AuditRecord.model_validate_json(m.value) for m in messages] == records
    assert {m.topic for m in messages} == {Topic.AUDIT.value}
    assert all(m.key == b"ehx:consent" for m in messages)
    assert all(dict(m.headers)["ehx-action"] == b"decision.deny" for m in messages)


@pytest.mark.kafka
async def test_twelve_thousand_messages_in_one_call_all_arrive_in_order(
    kafka_bootstrap: str,
) -> None:
    # A consent batch of 500 events for six recipients: a view, a decision and two audit
    # records each. FastStream's per-message publish timed out on such a batch here.
    topic = await create_topic(kafka_bootstrap, f"t-burst-{uuid.uuid4().hex[:8]}")
    sent = [
        OutboundMessage(topic, b"f1", m.value, m.headers) for m in audit_messages(_records(12_000))
    ]
    async with KafkaPublisher(kafka_bootstrap, BrokerSettings(), role="test") as publisher:
        await publisher.publish(sent)

    got = [r.value or b"" for r in await read_records(kafka_bootstrap, topic, len(sent))]
    assert got == [m.value for m in sent]


@pytest.mark.kafka
async def test_each_key_lands_where_the_default_partitioner_puts_it_in_order(
    kafka_bootstrap: str,
) -> None:
    # Families are keys: every client (ours in batches, an agency's Java producer, a
    # replay tool) must put one family on one partition, or its order is lost.
    topic = await create_topic(kafka_bootstrap, f"t-keys-{uuid.uuid4().hex[:8]}", 6)
    sent = [
        OutboundMessage(topic, f"family-{i % 40}".encode(), str(i).encode()) for i in range(2_000)
    ]
    async with KafkaPublisher(kafka_bootstrap, BrokerSettings(), role="test") as publisher:
        await publisher.publish(sent)

    got: dict[bytes, list[tuple[int, int]]] = {}
    for r in await read_records(kafka_bootstrap, topic, len(sent)):
        got.setdefault(r.key or b"", []).append((r.partition, int(r.value or b"0")))
    partitions = list(range(6))
    for key, arrived in got.items():
        assert {p for p, _ in arrived} == {DefaultPartitioner()(key, partitions, partitions)}
        numbers = [n for _, n in arrived]
        assert numbers == sorted(numbers)
    assert sum(len(v) for v in got.values()) == len(sent)
