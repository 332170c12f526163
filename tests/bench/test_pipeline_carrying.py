"""The pipeline benchmark counts the messages its topology carries, and the bound they set."""

from __future__ import annotations

import asyncio

import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from bench.pipeline import carrying, read_topics


def test_the_bound_is_the_passthrough_divided_by_the_messages_each_event_rides() -> None:
    carried = {"ehx.raw.police": 10, "ehx.linked": 10, "ehx.decisions": 50}
    found = carrying(carried, events=10, passthrough_rate=7_000.0, pipeline_rate=100.0)
    assert found["messages_per_event"] == 7.0
    assert found["topology_bound_per_second"] == pytest.approx(1_000.0)
    assert found["share_of_bound"] == pytest.approx(0.1)
    assert found["messages_by_topic"] == carried


def test_nothing_carried_is_no_bound_rather_than_a_division_by_zero() -> None:
    found = carrying({}, events=0, passthrough_rate=7_000.0, pipeline_rate=0.0)
    assert found["topology_bound_per_second"] == 0.0
    assert found["share_of_bound"] == 0.0


@pytest.mark.kafka
async def test_counts_every_message_on_each_topic_of_the_prefix_and_keeps_those_asked_for(
    kafka_bootstrap: str,
) -> None:
    prefix = "bench.count."
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(f"{prefix}a", 2, 1), NewTopic(f"{prefix}b", 1, 1)])
    finally:
        await admin.close()
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
    await producer.start()
    try:
        sends = [await producer.send(f"{prefix}a", b"x", key=str(n).encode()) for n in range(7)]
        sends += [await producer.send(f"{prefix}b", b"y") for _ in range(3)]
        await asyncio.gather(*sends)
    finally:
        await producer.stop()
    found = await read_topics(kafka_bootstrap, prefix, keep=[f"{prefix}b"])
    assert found.counts == {f"{prefix}a": 7, f"{prefix}b": 3}
    assert found.kept == [(None, b"y")] * 3  # only the topic asked for, key and value
