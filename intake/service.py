"""The intake service: verifies every raw event's signature before anything downstream sees it.

It consumes ``ehx.raw.*`` in batches. A message that is not a canonical event, is unsigned,
carries a bad signature, or claims another agency than its topic's, goes to quarantine
with its reason. The rest are stored, idempotent by event id.

Acknowledgement: as every service (``broker.commit``): the quarantine notes are
published, then the good events stored, then the offset committed; any exception
rewinds the batch, so no later success can commit past it. The note of an event
published again follows the store, which alone knows it held the event already.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from datetime import UTC, datetime
from typing import Any

from faststream import Context
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage

from ehx.broker.auditing import audit_messages
from ehx.broker.commit import BatchCommit, Store
from ehx.broker.consuming import (
    BATCH,
    Verification,
    VerifiedBatch,
    batch_subscriber,
    service_router,
)
from ehx.broker.publishing import MessagePublisher
from ehx.broker.topics import RAW_TOPICS
from ehx.intake.store import IntakeStore, ReceivedEvent
from ehx.schemas import CanonicalEvent, SignatureVerifier
from ehx.schemas.audit import Action, AuditRecord, stable_id

GROUP = "intake"
log = logging.getLogger(__name__)


def received(event: CanonicalEvent, record: Any, now: datetime) -> ReceivedEvent:
    """What the intake store keeps of a verified event: its ids, where it arrived, and
    a hash of its bytes; never its content (a withdrawal's destroyed keys could not
    reach a plaintext copy here)."""
    return ReceivedEvent(
        event_id=str(event.event_id),
        agency=event.source.agency.value,
        record_ref=event.source.record_ref,
        record_version=event.source.record_version,
        event_type=event.event_type.value,
        occurred_at=event.occurred_at,
        received_at=now,
        topic=record.topic,
        partition=record.partition,
        offset=record.offset,
        sha256=hashlib.sha256(record.value or b"").hexdigest(),
    )


def replayed(event: ReceivedEvent, first: str) -> AuditRecord:
    """An event seen again at another position: recorded once per position."""
    here = f"{event.topic}[{event.partition}]@{event.offset}"
    return AuditRecord(
        audit_id=stable_id("replayed", event.event_id, here),
        action=Action.RECORD_REPLAYED,
        actor=f"ehx:{GROUP}",
        role="system",
        agency=event.agency,
        purpose=f"published again at {here}; first at {first}; not processed again",
        event_ids=(event.event_id,),
        at=event.received_at,
    )


def register_intake(
    broker: KafkaBroker,
    publisher: MessagePublisher,
    store: IntakeStore,
    verifier: SignatureVerifier,
    *,
    session_timeout_ms: int = 10_000,
) -> None:
    """Attach the intake subscriber to ``broker``; it publishes through ``publisher``."""

    batches = BatchCommit(publisher)
    router = service_router(GROUP, Verification(verifier, raw=True))

    @batch_subscriber(
        router,
        *RAW_TOPICS,
        group_id=GROUP,
        session_timeout_ms=session_timeout_ms,
        off_the_alert_path=True,
    )
    async def on_raw(message: KafkaMessage, batch: VerifiedBatch = Context(BATCH)) -> None:
        now = datetime.now(UTC)
        good = [received(event, record, now) for event, record in batch.items]
        added: list[int] = []
        await batches.commit(
            batch.refused, Store(lambda: added.append(store.add(good)), "received events")
        )
        again: list[tuple[ReceivedEvent, str]] = []
        if added[0] < len(good):
            # Published again (not a redelivery of the same offset): on the ledger, each.
            # Only the store can say which it already held, so these notes follow it.
            again = await asyncio.to_thread(store.replays, good)
            await publisher.publish(audit_messages(replayed(e, first) for e, first in again))
        if batch.refused or again:
            log.info(
                "intake batch: %d stored, %d replays, %d messages for quarantine",
                len(good),
                len(again),
                len(batch.refused),
            )

    broker.include_router(router)
