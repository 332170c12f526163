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
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage

from broker import telemetry
from broker.auditing import audit_messages
from broker.commit import BatchCommit, Store
from broker.consuming import (
    batch_records,
    batch_subscriber,
    quarantined,
    service_router,
    verified_event,
)
from broker.publishing import MessagePublisher
from broker.topics import RAW_TOPICS
from intake.store import IntakeStore, ReceivedEvent
from schemas import CanonicalEvent, SignatureVerifier
from schemas.audit import Action, AuditRecord, stable_id
from schemas.quarantine import QuarantineRecord

GROUP = "intake"
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Verdict:
    event: ReceivedEvent | None
    quarantine: QuarantineRecord | None


def check(record: Any, verifier: SignatureVerifier, now: datetime) -> Verdict:
    """Decide one consumed record: a verified event, or a quarantine entry saying why."""
    checked = verified_event(record, verifier, GROUP, now, raw=True)
    if not isinstance(checked, CanonicalEvent):
        return Verdict(None, checked)
    event, value = checked, record.value or b""
    return Verdict(
        ReceivedEvent(
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
            body=value.decode(),
        ),
        None,
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
    router = service_router(GROUP)

    @batch_subscriber(
        router,
        *RAW_TOPICS,
        group_id=GROUP,
        session_timeout_ms=session_timeout_ms,
    )
    async def on_raw(message: KafkaMessage) -> None:
        now = datetime.now(UTC)
        records = batch_records(message.raw_message)
        verdicts = [check(record, verifier, now) for record in records]
        refused = [v.quarantine for v in verdicts if v.quarantine is not None]
        out = [m for entry in refused for m in quarantined(entry)]
        good = [v.event for v in verdicts if v.event is not None]
        traced = [
            (v.event.event_id, telemetry.header(r.headers, telemetry.TRACEPARENT))
            for v, r in zip(verdicts, records, strict=True)
            if v.event is not None
        ]
        added: list[int] = []
        with telemetry.stage_spans(GROUP, traced):
            await batches.commit(
                out, Store(lambda: added.append(store.add(good)), "received events")
            )
        again: list[tuple[ReceivedEvent, str]] = []
        if added[0] < len(good):
            # Published again (not a redelivery of the same offset): on the ledger, each.
            # Only the store can say which it already held, so these notes follow it.
            again = await asyncio.to_thread(store.replays, good)
            await publisher.publish(audit_messages(replayed(e, first) for e, first in again))
        if refused or again:
            log.info(
                "intake batch: %d replays, %d quarantined of %d",
                len(again),
                len(refused),
                len(records),
            )

    broker.include_router(router)
