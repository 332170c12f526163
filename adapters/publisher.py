"""The port adapters publish through, and its Kafka implementation.

A batch is handed over whole and the call returns once the broker has acknowledged
every message in it, so the caller may then record it as published.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from aiokafka import AIOKafkaProducer

from broker.logs import protect_logs
from broker.settings import BrokerSettings


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

    def __init__(self, bootstrap: str, settings: BrokerSettings) -> None:
        protect_logs()
        self._producer = AIOKafkaProducer(
            bootstrap_servers=bootstrap,
            client_id=f"{settings.client_id}-adapter",
            acks="all",
            linger_ms=5,
            max_batch_size=512 * 1024,
            max_request_size=2 * 1024 * 1024,
            **settings.client_options(),
        )

    async def start(self) -> None:
        await self._producer.start()

    async def stop(self) -> None:
        await self._producer.stop()

    async def publish(self, messages: Sequence[OutboundMessage]) -> None:
        futures = [
            await self._producer.send(
                message.topic, message.value, key=message.key, headers=list(message.headers)
            )
            for message in messages
        ]
        await asyncio.gather(*futures)

    async def __aenter__(self) -> KafkaPublisher:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()
