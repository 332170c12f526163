"""Reading whole topics from their beginning, outside any consumer group.

For work that looks at everything a topic holds (rebuilding a recipient's store, the
proof that removed items cannot be read): nothing is committed, and no group is joined,
so no running service's partitions move. The embedded broker's high watermark cannot be
trusted to say where a topic ends, so reading stops when the topics have been quiet for
``quiet_polls`` polls.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterable

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition

from ehx.broker.admin import admin_client
from ehx.broker.settings import BrokerSettings


async def read_from_start(
    bootstrap: str,
    settings: BrokerSettings,
    topics: Iterable[str],
    *,
    purpose: str,
    quiet_polls: int = 4,
) -> AsyncIterator[list[ConsumerRecord[bytes, bytes]]]:
    """Batches of every record on ``topics``, oldest first per partition."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        group_id=None,
        client_id=f"{settings.client_id}-{purpose}-{uuid.uuid4().hex[:6]}",
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        **settings.client_options(),
    )
    partitions = await _partitions(bootstrap, settings, list(topics))
    await consumer.start()
    try:
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        empty = 0
        while empty < quiet_polls:
            batch = await consumer.getmany(timeout_ms=500, max_records=2_000)
            records = [r for rs in batch.values() for r in rs]
            if not records:
                empty += 1
                continue
            empty = 0
            yield records
    finally:
        await consumer.stop()


async def _partitions(
    bootstrap: str, settings: BrokerSettings, topics: list[str]
) -> list[TopicPartition]:
    """Every partition of ``topics``, asked of the cluster by name.

    (A consumer's own metadata cannot be trusted for this: ``AIOKafkaConsumer.topics()``
    fetches the metadata into a copy it does not keep, and on Apache Kafka the consumer
    starts knowing no topics, so it would read nothing.)"""
    async with admin_client(bootstrap, settings, "partitions") as admin:
        described = await admin.describe_topics(topics)
    return [
        TopicPartition(topic["topic"], partition["partition"])
        for topic in described
        if not topic["error_code"]
        for partition in sorted(topic["partitions"], key=lambda p: p["partition"])
    ]
