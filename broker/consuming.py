"""What every batch subscriber does alike: a router per service whose middleware counts
each batch, the subscription itself, unpacking the batch, verifying its events and
quarantining the rest. What a handler does with its output is ``broker.commit``'s."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar, cast

from faststream import AckPolicy, BaseMiddleware, ContextRepo
from faststream.kafka import KafkaBroker, KafkaRouter
from faststream.kafka.annotations import KafkaMessage
from faststream.message import StreamMessage
from opentelemetry.trace import Span
from pydantic import ValidationError

from ehx.broker import telemetry
from ehx.broker.auditing import audit_message, refused_record
from ehx.broker.publishing import OutboundMessage
from ehx.broker.topics import Topic
from ehx.schemas import CanonicalEvent, SignatureInvalid, SignatureVerifier
from ehx.schemas.quarantine import QuarantineRecord

T = TypeVar("T")


def batch_records(raw_message: Any) -> tuple[Any, ...]:
    """The aiokafka records of a batch subscriber's message (one record or a tuple)."""
    return raw_message if isinstance(raw_message, tuple) else (raw_message,)


def position(record: Any) -> str:
    return f"{record.topic}[{record.partition}]@{record.offset}"


def refusal(
    record: Any, stage: str, reason: str, now: datetime, agency: str | None = None
) -> QuarantineRecord:
    value: bytes = record.value or b""
    return QuarantineRecord.of(
        stage=stage,
        agency=agency,
        source=record.topic,
        position=position(record),
        field=None,
        reason=reason,
        original=value,
        original_length=len(value),
        refused_at=now,
    )


def why_invalid(exc: ValidationError) -> str:
    """The first thing wrong, by field: never the value (it may be personal data)."""
    first = exc.errors(include_input=False, include_url=False, include_context=False)[0]
    where = ".".join(str(part) for part in first["loc"])
    return f"{where}: {first['msg']}" if where else first["msg"]


def parsed(
    record: Any, parse: Callable[[bytes], T], stage: str, what: str, now: datetime
) -> T | QuarantineRecord:
    """The record's value parsed, or the refusal saying it is not ``what`` and why."""
    try:
        return parse(record.value or b"")
    except ValidationError as exc:
        return refusal(record, stage, f"not {what}: {why_invalid(exc)}", now)


def verified_event(
    record: Any, verifier: SignatureVerifier, stage: str, now: datetime, *, raw: bool = False
) -> CanonicalEvent | QuarantineRecord:
    """The record's event if it parses and its agency's signature holds; else why not.

    ``raw``: the record was read off ``ehx.raw.*``, so it must be on its own agency's topic
    (an agency may write only its own; an event on another's claims an identity).
    """
    value: bytes = record.value or b""
    event = parsed(record, CanonicalEvent.from_bytes, stage, "a canonical event", now)
    if isinstance(event, QuarantineRecord):
        return event
    agency = event.source.agency.value
    if raw and record.topic != Topic.raw(event.source.agency):
        return refusal(
            record,
            stage,
            f"event claims agency {agency} but arrived on {record.topic}",
            now,
            agency,
        )
    try:
        verifier.verify(event, value)
    except SignatureInvalid as exc:
        return refusal(record, stage, exc.reason, now, event.source.agency.value)
    return event


def quarantined(entry: QuarantineRecord) -> list[OutboundMessage]:
    """A refusal for ``ehx.quarantine``, and its note for ``ehx.audit``.

    Publish them with the stage's other output, before its offsets are committed.
    """
    telemetry.quarantined.add(1, {"ehx.stage": entry.stage})
    return [
        OutboundMessage(
            Topic.QUARANTINE.value,
            (entry.agency or "unknown").encode(),
            entry.model_dump_json().encode(),
            (("ehx-stage", entry.stage.encode()),),
        ),
        audit_message(refused_record(entry, replayable=True)),
    ]


Handler = Callable[[KafkaMessage], Awaitable[None]]


async def undecoded(message: StreamMessage[Any], original: Callable[..., Any]) -> Any:
    """The batch's bodies as they came: every handler reads ``message.raw_message`` itself.

    FastStream's own batch decoder builds a whole message object (with a fresh uuid) for
    each record before decoding it: a tenth of the audit service's time, for nothing.
    """
    return message.body


class ServicesBroker(KafkaBroker):
    """FastStream's Kafka broker, whose subscribers start together, not one by one.

    Each subscriber's start waits for its consumer group's first assignment (aiokafka
    joins the group before it returns), which takes the broker's initial rebalance delay:
    about 3 s a group on Apache Kafka's default and on the embedded broker. One after
    another, the seven groups of ``ehx services`` took 21 s to start; together, 3 s.
    """

    async def start(self) -> None:
        await self.connect()
        await asyncio.gather(*(subscriber.start() for subscriber in self.subscribers))
        for publisher in self.publishers:
            await publisher.start()
        self.running = True


class BatchMetrics(BaseMiddleware):
    """Counts each batch's records and their consumer lag, under the service's stage."""

    def __init__(self, stage: str, msg: Any, /, *, context: ContextRepo) -> None:
        super().__init__(msg, context=context)
        self.stage = stage

    async def consume_scope(
        self, call_next: Callable[[Any], Awaitable[Any]], msg: StreamMessage[Any]
    ) -> Any:
        telemetry.record_batch(self.stage, batch_records(msg.raw_message))
        return await call_next(msg)


@dataclass(frozen=True)
class Verification:
    """What a router's subscribers read: canonical events under an agency's signature.

    ``raw``: read off ``ehx.raw.*``, so each must be on its own agency's topic. ``skip``
    leaves out records the handler reads itself (the consent service's relinks).
    """

    verifier: SignatureVerifier
    raw: bool = False
    skip: Callable[[Any], bool] | None = None


#: Where a verified batch waits for its handler: ``batch: VerifiedBatch = Context(BATCH)``.
BATCH = "verified_batch"


class VerifyBatch(BaseMiddleware):
    """Verifies a batch's events before the handler runs; the refused go to quarantine.

    The handler receives the result from FastStream's context (``Context(BATCH)``) and
    publishes ``batch.refused`` with its own output, before the offsets are committed.
    Each verified event gets a span (sampled, under its own trace) covering the handler.
    """

    def __init__(
        self, stage: str, verification: Verification, msg: Any, /, *, context: ContextRepo
    ) -> None:
        super().__init__(msg, context=context)
        self.stage, self.verification = stage, verification

    async def consume_scope(
        self, call_next: Callable[[Any], Awaitable[Any]], msg: StreamMessage[Any]
    ) -> Any:
        batch = verified_batch(msg, self.verification, self.stage)
        with self.context.scope(BATCH, batch), batch.spans():
            return await call_next(msg)


def service_router(stage: str, verification: Verification | None = None) -> KafkaRouter:
    """A router for a service's subscribers (the composition root includes it in the
    broker). Its middleware records every batch's metrics under ``stage`` and, given a
    ``verification``, verifies each batch's events for the handler (``VerifyBatch``)."""

    def metrics(msg: Any, /, *, context: ContextRepo) -> BatchMetrics:
        return BatchMetrics(stage, msg, context=context)

    if verification is None:
        return KafkaRouter(middlewares=(metrics,))

    def verify(msg: Any, /, *, context: ContextRepo) -> VerifyBatch:
        return VerifyBatch(stage, verification, msg, context=context)

    return KafkaRouter(middlewares=(metrics, verify))


@dataclass
class VerifiedBatch:
    """A batch's events whose signatures hold, each with its record, and the refusals
    (for ``ehx.quarantine`` and ``ehx.audit``) of every record that is not one."""

    stage: str
    events: list[tuple[CanonicalEvent, Any]] = field(default_factory=list)
    refused: list[OutboundMessage] = field(default_factory=list)

    @contextmanager
    def spans(self) -> Iterator[list[Span]]:
        """A span per sampled event under its own trace, covering the batch's handling."""
        traced = [
            (str(event.event_id), event.trace.traceparent if event.trace else None)
            for event, _ in self.events
        ]
        with telemetry.stage_spans(self.stage, traced) as spans:
            yield spans


def verified_batch(
    message: StreamMessage[Any], verification: Verification, stage: str
) -> VerifiedBatch:
    """Parse and verify each record of a batch (``verified_event``); quarantine the rest."""
    now = datetime.now(UTC)
    batch = VerifiedBatch(stage)
    skip = verification.skip
    for record in batch_records(message.raw_message):
        if skip is not None and skip(record):
            continue
        checked = verified_event(record, verification.verifier, stage, now, raw=verification.raw)
        if isinstance(checked, CanonicalEvent):
            batch.events.append((checked, record))
        else:
            batch.refused += quarantined(checked)
    return batch


def batch_subscriber(
    broker: KafkaBroker | KafkaRouter,
    *topics: str,
    group_id: str,
    session_timeout_ms: int,
    # A batch's own work (a transaction, a commit, the alerts' read) is spread over its
    # records: behind in a burst, a stage that takes more at a time catches up sooner
    # (the figures: docs/performance.md, 2026-12-04).
    max_records: int = 1_000,
) -> Callable[[Handler], Handler]:
    """How every service subscribes: in batches, from the earliest offset, ``NACK_ON_ERROR``.

    The offset of a batch is committed only when its handler returns, so a handler
    publishes and stores first; an exception rewinds the whole batch, and no later
    success can commit past it. The short fetch wait (50 ms, not aiokafka's 500) keeps
    an event's wait for the next fetch short.
    """
    subscribe = broker.subscriber(
        *topics,
        group_id=group_id,
        batch=True,
        max_records=max_records,
        auto_offset_reset="earliest",
        ack_policy=AckPolicy.NACK_ON_ERROR,
        fetch_max_wait_ms=50,
        session_timeout_ms=session_timeout_ms,
        heartbeat_interval_ms=max(session_timeout_ms // 5, 500),
        decoder=undecoded,
    )

    def register(handler: Handler) -> Handler:
        return cast(Handler, subscribe(handler))

    return register
