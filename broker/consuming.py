"""What every batch subscriber does alike: a router per service whose middleware counts
each batch and reads it (parses, verifies signatures, quarantines what fails, opens a span
an event), the subscription itself. What a handler does with its output is
``broker.commit``'s."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Generic, Protocol, TypeVar, cast

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
T_co = TypeVar("T_co", covariant=True)


def batch_records(raw_message: Any) -> tuple[Any, ...]:
    """The aiokafka records of a batch subscriber's message: one record, or a tuple of them
    (a list, from FastStream's ``TestKafkaBroker``)."""
    return tuple(raw_message) if isinstance(raw_message, tuple | list) else (raw_message,)


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


class Reading(Protocol[T_co]):
    """How a router's subscribers read each record of a batch, before the handler runs."""

    def read(self, record: Any, stage: str, now: datetime) -> T_co | QuarantineRecord | None:
        """What the record holds, or why it is refused; ``None``: the handler reads it."""
        ...

    def trace(self, item: Any, record: Any) -> tuple[str, str | None] | None:
        """The event id and traceparent of the span to open for ``item``; ``None``: none."""
        ...


@dataclass(frozen=True)
class Verification:
    """Canonical events under an agency's signature (``verified_event``).

    ``raw``: read off ``ehx.raw.*``, so each must be on its own agency's topic.
    """

    verifier: SignatureVerifier
    raw: bool = False

    def read(self, record: Any, stage: str, now: datetime) -> CanonicalEvent | QuarantineRecord:
        return verified_event(record, self.verifier, stage, now, raw=self.raw)

    def trace(self, item: CanonicalEvent, record: Any) -> tuple[str, str | None]:
        return str(item.event_id), item.trace.traceparent if item.trace else None


@dataclass(frozen=True)
class Parsing(Generic[T]):
    """Messages the services wrote themselves (views, audit records): parsed, not signed.

    ``spans``: open a span for each, named by its ``event_id`` and traced by the record's
    traceparent header. ``stage``: the service named in refusals, where it is not the
    router's (the consent registry's subscriber refuses as ``consent``).
    """

    parse: Callable[[bytes], T]
    what: str
    spans: bool = False
    stage: str | None = None

    def read(self, record: Any, stage: str, now: datetime) -> T | QuarantineRecord:
        return parsed(record, self.parse, self.stage or stage, self.what, now)

    def trace(self, item: Any, record: Any) -> tuple[str, str | None] | None:
        if not self.spans:
            return None
        return str(item.event_id), telemetry.header(record.headers, telemetry.TRACEPARENT)


#: Where a read batch waits for its handler: ``batch: ReadBatch[...] = Context(BATCH)``.
BATCH = "read_batch"


@dataclass
class ReadBatch(Generic[T]):
    """What a batch held, each item with its record, and the refusals (for
    ``ehx.quarantine`` and ``ehx.audit``) of every record that did not read."""

    stage: str
    items: list[tuple[T, Any]] = field(default_factory=list)
    refused: list[OutboundMessage] = field(default_factory=list)
    traced: list[tuple[str, str | None]] = field(default_factory=list)

    @contextmanager
    def spans(self, stage: str | None = None) -> Iterator[list[Span]]:
        """A span per sampled item under its own trace, named for ``stage`` (the batch's)."""
        with telemetry.stage_spans(stage or self.stage, self.traced) as spans:
            yield spans


#: Canonical events whose agencies' signatures hold.
VerifiedBatch = ReadBatch[CanonicalEvent]


def read_batch(message: StreamMessage[Any], reading: Reading[T], stage: str) -> ReadBatch[T]:
    """Read each record of a batch (``reading``); quarantine those that do not read."""
    now = datetime.now(UTC)
    batch: ReadBatch[T] = ReadBatch(stage)
    for record in batch_records(message.raw_message):
        checked = reading.read(record, stage, now)
        if checked is None:
            continue
        if isinstance(checked, QuarantineRecord):
            batch.refused += quarantined(checked)
            continue
        batch.items.append((checked, record))
        traced = reading.trace(checked, record)
        if traced is not None:
            batch.traced.append(traced)
    return batch


class ReadEachBatch(BaseMiddleware):
    """Reads a batch before the handler runs; what does not read goes to quarantine.

    The handler receives the result from FastStream's context (``Context(BATCH)``) and
    publishes ``batch.refused`` with its own output, before the offsets are committed.
    Each item the reading traces gets a span (sampled, under its own trace) covering the
    handler.
    """

    def __init__(
        self, stage: str, reading: Reading[Any], msg: Any, /, *, context: ContextRepo
    ) -> None:
        super().__init__(msg, context=context)
        self.stage, self.reading = stage, reading

    async def consume_scope(
        self, call_next: Callable[[Any], Awaitable[Any]], msg: StreamMessage[Any]
    ) -> Any:
        batch = read_batch(msg, self.reading, self.stage)
        with self.context.scope(BATCH, batch), batch.spans():
            return await call_next(msg)


def service_router(stage: str, reading: Reading[Any] | None = None) -> KafkaRouter:
    """A router for a service's subscribers (the composition root includes it in the
    broker). Its middleware records every batch's metrics under ``stage`` and, given a
    ``reading``, reads each batch for the handler (``ReadEachBatch``)."""

    def metrics(msg: Any, /, *, context: ContextRepo) -> BatchMetrics:
        return BatchMetrics(stage, msg, context=context)

    if reading is None:
        return KafkaRouter(middlewares=(metrics,))

    def read(msg: Any, /, *, context: ContextRepo) -> ReadEachBatch:
        return ReadEachBatch(stage, reading, msg, context=context)

    return KafkaRouter(middlewares=(metrics, read))


def batch_subscriber(
    broker: KafkaBroker | KafkaRouter,
    *topics: str,
    group_id: str,
    session_timeout_ms: int,
    # A batch's own work (a transaction, a commit, the alerts' read) is spread over its
    # records: behind in a burst, a stage that takes more at a time catches up sooner
    # (the figures: docs/performance.md, 2026-12-04).
    max_records: int = 1_000,
    off_the_alert_path: bool = False,
) -> Callable[[Handler], Handler]:
    """How every service subscribes: in batches, from the earliest offset, ``NACK_ON_ERROR``.

    The offset of a batch is committed only when its handler returns, so a handler
    publishes and stores first; an exception rewinds the whole batch, and no later
    success can commit past it. The short fetch wait (50 ms, not aiokafka's 500) keeps
    an event's wait for the next fetch short.

    ``off_the_alert_path``: nobody waits on this stage (the intake store, the audit
    ledger), so the broker holds each fetch until 256 KB are waiting or half a second has
    passed. Each batch's transaction is then spread over more records, which leaves the
    CPU to the stages an alert waits on (docs/performance.md, 2026-12-06).
    """
    subscribe = broker.subscriber(
        *topics,
        group_id=group_id,
        batch=True,
        max_records=max_records,
        auto_offset_reset="earliest",
        ack_policy=AckPolicy.NACK_ON_ERROR,
        fetch_max_wait_ms=500 if off_the_alert_path else 50,
        fetch_min_bytes=256 * 1024 if off_the_alert_path else 1,
        session_timeout_ms=session_timeout_ms,
        heartbeat_interval_ms=max(session_timeout_ms // 5, 500),
        decoder=undecoded,
    )

    def register(handler: Handler) -> Handler:
        return cast(Handler, subscribe(handler))

    return register
