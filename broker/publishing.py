"""What this project puts on the wire: a message, the port that publishes a batch of
them, and its Kafka implementation, for the adapters and the services alike.

A batch is handed over whole and the call returns once the broker has acknowledged
every message in it, so the caller may then record it as published or commit the
offsets it was made from. FastStream's own ``publish_batch`` writes to one partition,
and its per-message ``publish`` was a quarter of this rate and timed out under a
backlog (docs/performance.md), so the services publish through this one producer.

The messages are grouped by partition and handed to the producer as record batches
(``create_batch``/``send_batch``), not one ``send`` each: a consent batch is a few
thousand messages, and the per-message path (metadata lookup, partitioner, future)
was a tenth of the consent service's time. Partitions are chosen by aiokafka's own
default partitioner (murmur2 of the key, as the Java client), so keys land where any
Kafka client would put them, and a partition's messages keep their order.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from aiokafka import AIOKafkaProducer
from aiokafka.errors import (
    ClusterAuthorizationFailedError,
    KafkaTimeoutError,
    NotEnoughReplicasAfterAppendError,
    NotEnoughReplicasError,
    RequestTimedOutError,
    TopicAuthorizationFailedError,
)
from aiokafka.partitioner import DefaultPartitioner

from ehx.broker.errors import BrokerError, BrokerRefused
from ehx.broker.logs import protect_logs
from ehx.broker.settings import BrokerSettings


@dataclass(frozen=True)
class OutboundMessage:
    topic: str
    key: bytes
    value: bytes
    headers: tuple[tuple[str, bytes], ...] = ()


class MessagePublisher(Protocol):
    """Publish a batch and return when all of it is durable on the broker."""

    async def publish(self, messages: Sequence[OutboundMessage]) -> None: ...


class KafkaPublisher:
    """``MessagePublisher`` over an aiokafka producer (acks from all in-sync replicas).

    The producer is not idempotent: the embedded broker refuses InitProducerId, so
    exactly-once rests on event ids and idempotent consumers, not on the broker.
    """

    def __init__(self, bootstrap: str, settings: BrokerSettings, role: str = "adapter") -> None:
        self._options = {
            "bootstrap_servers": bootstrap,
            "client_id": f"{settings.client_id}-{role}",
            "acks": "all",
            "linger_ms": 5,
            # Large batches: a send into a full batch waits for it to drain (and times
            # out under a backlog); 512 KB holds a busy stage's whole output per partition.
            "max_batch_size": 512 * 1024,
            "max_request_size": 2 * 1024 * 1024,
            **settings.client_options(),
        }
        self._producer: AIOKafkaProducer | None = None
        #: Who the cluster knows this client as, for a refusal to name.
        self._principal = settings.sasl_username or "this client"
        self._partitioner = DefaultPartitioner()
        self._partitions: dict[str, list[int]] = {}
        #: Partition by (topic, key): keys repeat (families, actors), murmur2 is Python.
        self._placed: dict[tuple[str, bytes], int] = {}

    async def start(self) -> None:
        """Open the producer (in the running event loop, as aiokafka requires)."""
        protect_logs()
        self._producer = AIOKafkaProducer(**self._options)
        await self._producer.start()

    async def stop(self) -> None:
        if self._producer is not None:
            await self._producer.stop()
            self._producer = None

    async def publish(self, messages: Sequence[OutboundMessage]) -> None:
        if not messages:
            return
        if self._producer is None:
            raise RuntimeError("the publisher is not started: call start() first")
        try:
            await self._publish(self._producer, messages)
        except (TopicAuthorizationFailedError, ClusterAuthorizationFailedError) as exc:
            topics = ", ".join(sorted({m.topic for m in messages}))
            raise BrokerRefused(self._principal, f"writing to {topics}") from exc
        except (
            KafkaTimeoutError,
            RequestTimedOutError,
            NotEnoughReplicasError,
            NotEnoughReplicasAfterAppendError,
        ) as exc:
            # acks=all: the leader answers only when min.insync.replicas have the batch.
            # aiokafka retries a shortfall until its request timeout, then gives up here.
            topics = ", ".join(sorted({m.topic for m in messages}))
            raise BrokerError(
                f"the cluster did not acknowledge the write to {topics}: fewer replicas in "
                "sync than min.insync.replicas, or no leader reachable. Nothing of this batch "
                "is acknowledged; send it again when the brokers are back (some of it may "
                "arrive twice: every reader keeps an event once, by its id)"
            ) from exc

    async def _publish(
        self, producer: AIOKafkaProducer, messages: Sequence[OutboundMessage]
    ) -> None:
        grouped: dict[tuple[str, int], list[OutboundMessage]] = {}
        for message in messages:
            place = (message.topic, await self._partition(message.topic, message.key))
            grouped.setdefault(place, []).append(message)
        futures = []
        for (topic, partition), group in grouped.items():
            batch = producer.create_batch()
            for message in group:
                headers = list(message.headers)
                if (
                    batch.append(
                        key=message.key, value=message.value, timestamp=None, headers=headers
                    )
                    is None
                ):
                    # Full: send it, start the next (an empty batch takes any one message).
                    futures.append(await producer.send_batch(batch, topic, partition=partition))
                    batch = producer.create_batch()
                    batch.append(
                        key=message.key, value=message.value, timestamp=None, headers=headers
                    )
            futures.append(await producer.send_batch(batch, topic, partition=partition))
        await asyncio.gather(*futures)

    async def _partition(self, topic: str, key: bytes) -> int:
        """The partition the default partitioner would choose for ``key``."""
        place = self._placed.get((topic, key))
        if place is not None:
            return place
        partitions = self._partitions.get(topic)
        if partitions is None:
            assert self._producer is not None
            partitions = sorted(await self._producer.partitions_for(topic))
            self._partitions[topic] = partitions
        # A key always has a partition of all of them, available or not (``available``
        # is only read for records without a key, which this project never sends).
        place = int(self._partitioner(key, partitions, partitions))
        if len(self._placed) > 100_000:
            self._placed.clear()
        self._placed[(topic, key)] = place
        return place

    async def __aenter__(self) -> KafkaPublisher:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()
