"""The one ingest pipeline every way in uses: frame → map → classify → sign → publish.

The CLI's ``ehx ingest``, the watched folder and the HTTP endpoint all hand their bytes
to ``Ingestor``; only how the bytes arrive differs.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import json
import logging
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import islice
from typing import IO, Any
from uuid import UUID

from opentelemetry.trace import Span

from ehx.adapters.base import AgencyAdapter, MappedRecord
from ehx.adapters.framing import RawRecord
from ehx.adapters.registry import PUBLISHES, Claim, Outcome, RecordRegistry, Verdict
from ehx.broker import telemetry
from ehx.broker.auditing import accepted_record, audit_message, refused_record
from ehx.broker.publishing import MessagePublisher, OutboundMessage
from ehx.broker.topics import Topic
from ehx.schemas import CanonicalEvent, EventSigner, RecordRefused, TraceContext, canonical_json
from ehx.schemas.quarantine import QuarantineRecord

BATCH = 500
#: How a refusal caused by a fault in ehx itself (not the record) begins.
UNEXPECTED = "unexpected error in the adapter"
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Refusal:
    """A record that was not accepted: where it was, which field, and why."""

    source: str
    position: str
    field: str | None
    reason: str


@dataclass
class IngestSummary:
    """What one ingest did, for people (a table) and for machines (``--json``)."""

    agency: str
    records: int = 0
    accepted: int = 0
    events_published: int = 0
    superseded: int = 0
    resumed: int = 0
    duplicates: int = 0
    refused: list[Refusal] = field(default_factory=list)
    #: Parts of accepted records that were left out, and why.
    warnings: list[Refusal] = field(default_factory=list)

    def merge(self, other: IngestSummary) -> None:
        self.records += other.records
        self.accepted += other.accepted
        self.events_published += other.events_published
        self.superseded += other.superseded
        self.resumed += other.resumed
        self.duplicates += other.duplicates
        self.refused.extend(other.refused)
        self.warnings.extend(other.warnings)

    def as_dict(self) -> dict[str, object]:
        return {
            "agency": self.agency,
            "records": self.records,
            "accepted": self.accepted,
            "events_published": self.events_published,
            "superseded": self.superseded,
            "resumed": self.resumed,
            "duplicates": self.duplicates,
            "refused": [refusal.__dict__ for refusal in self.refused],
            "warnings": [warning.__dict__ for warning in self.warnings],
        }


def content_hash(record: RawRecord) -> str:
    """The same record resent with different whitespace or key order hashes the same."""
    return hashlib.sha256(canonical_json(record.parsed)).hexdigest()


def event_headers(
    event: CanonicalEvent, accepted_at: bytes | None = None
) -> tuple[tuple[str, bytes], ...]:
    headers = [
        ("ehx-event-id", str(event.event_id).encode()),
        ("ehx-event-type", event.event_type.value.encode()),
        ("ehx-agency", event.source.agency.value.encode()),
        ("ehx-schema-version", str(event.schema_version).encode()),
    ]
    if event.trace is not None:
        headers.append((telemetry.TRACEPARENT, event.trace.traceparent.encode()))
    if accepted_at is not None:
        headers.append((telemetry.ACCEPTED_AT, accepted_at))
    return tuple(headers)


@dataclass
class _Batch:
    """A mapped batch, not yet classified or sent."""

    now: datetime
    summary: IngestSummary
    mapped: list[tuple[RawRecord, MappedRecord]] = field(default_factory=list)
    quarantined: list[OutboundMessage] = field(default_factory=list)
    #: The auditor's notes of this batch's refusals (its acceptances are added when sent).
    audits: list[OutboundMessage] = field(default_factory=list)


class _Run:
    """One ingest call's moving parts: its database thread and its batches on the wire."""

    def __init__(self, loop: asyncio.AbstractEventLoop, executor: ThreadPoolExecutor) -> None:
        self.loop = loop
        self.executor = executor
        #: (record ref, version) reserved by this run, so a record repeated later in the
        #: same stream counts as a duplicate even before its batch is acknowledged.
        self.reserved: set[tuple[str, int]] = set()
        self.summaries: list[IngestSummary] = []
        self._acks: list[asyncio.Future[None]] = []

    def track(self, acknowledged: Coroutine[Any, Any, None], summary: IngestSummary) -> None:
        self._acks.append(asyncio.ensure_future(acknowledged))
        self.summaries.append(summary)
        # Keep at most two batches on the wire: bounded memory, and errors surface soon.
        while len(self._acks) > 2 and self._acks[0].done():
            self._acks.pop(0).result()

    async def drain(self) -> None:
        """Wait for every batch's acknowledgement; raise the first failure."""
        for ack in self._acks:
            await ack
        self._acks.clear()

    async def settle(self) -> None:
        """After a failure: let what is on the wire finish or fail, without raising."""
        await asyncio.gather(*self._acks, return_exceptions=True)


def _batches(records: Iterable[RawRecord], size: int) -> Iterator[list[RawRecord]]:
    iterator = iter(records)
    while batch := list(islice(iterator, size)):
        yield batch


class Ingestor:
    """Runs one agency's records through the pipeline and says what became of each."""

    def __init__(
        self,
        adapter: AgencyAdapter,
        registry: RecordRegistry,
        signer: EventSigner,
        publisher: MessagePublisher,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        registry_thread: ThreadPoolExecutor | None = None,
        organisation: str | None = None,
    ) -> None:
        """``registry_thread``: one thread, kept by the caller, for the registry's work on
        every ``ingest`` (a caller that ingests many small bodies, such as the HTTP API,
        would otherwise start and join a thread for each); without it, each ingest
        starts its own.

        ``organisation``: the sending organisation's code where the caller knows it
        (``--org``): records that name none are marked as its; a record naming
        another is refused."""
        if signer.agency is not adapter.agency:
            raise ValueError(f"a {signer.agency} key cannot sign {adapter.agency} records")
        self.adapter = adapter
        self.registry = registry
        self.signer = signer
        self.publisher = publisher
        self.clock = clock
        self.topic = Topic.raw(adapter.agency)
        self.stage = f"adapter.{adapter.agency.value}"
        self.registry_thread = registry_thread
        self.organisation = organisation

    async def ingest(
        self,
        stream: IO[bytes],
        source: str,
        on_progress: Callable[[int], None] | None = None,
        frame: Callable[[IO[bytes], str], Iterator[RawRecord]] | None = None,
    ) -> IngestSummary:
        """Ingest every record of one stream (a file, an HTTP body).

        ``frame`` overrides how the stream is cut into records (the HTTP endpoint picks
        it by content type); by default the adapter's own framing is used.

        Three things overlap: mapping a batch (this thread), the registry's work on the
        batch before it (one database thread, in order), and the broker acknowledging
        the batch before that. A batch is marked published only after its
        acknowledgement; a crash before that leaves it "pending", and the next ingest
        republishes it under the same event ids.
        """
        summary = IngestSummary(self.adapter.agency.value)
        frames = (frame or self.adapter.frame)(stream, source)
        loop = asyncio.get_running_loop()
        own_thread = self.registry_thread is None
        run = _Run(
            loop,
            self.registry_thread
            or ThreadPoolExecutor(max_workers=1, thread_name_prefix="ehx-registry"),
        )
        waiting: tuple[_Batch, asyncio.Future[list[Verdict]]] | None = None
        try:
            for batch in _batches(frames, BATCH):
                prepared = self._map(batch, self.clock())
                if waiting is not None:
                    await self._publish(run, *waiting)
                waiting = (prepared, self._reserve(run, prepared))
                if on_progress is not None:
                    on_progress(stream.tell() if stream.seekable() else 0)
            if waiting is not None:
                await self._publish(run, *waiting)
                waiting = None
            await run.drain()
        finally:
            if waiting is not None:
                await asyncio.gather(waiting[1], return_exceptions=True)
            await run.settle()
            if own_thread:
                run.executor.shutdown(wait=True)
        for finished in run.summaries:
            summary.merge(finished)
        return summary

    def _reserve(self, run: _Run, batch: _Batch) -> asyncio.Future[list[Verdict]]:
        claims = [
            Claim(
                result.record_ref,
                result.version,
                content_hash(record),
                tuple(str(event.event_id) for event in result.events),
            )
            for record, result in batch.mapped
        ]
        return run.loop.run_in_executor(
            run.executor,
            self.registry.reserve,
            self.adapter.agency,
            claims,
            batch.now,
            run.reserved,
        )

    def _map(self, batch: list[RawRecord], now: datetime) -> _Batch:
        """Map a batch (CPU only): refusals are kept with their quarantine messages."""
        prepared = _Batch(now, IngestSummary(self.adapter.agency.value))
        for record in batch:
            prepared.summary.records += 1
            if record.problem is not None:
                self._refuse(prepared, record, record.problem, None, record.position)
                continue
            try:
                mapped = self._as_sent_by(self.adapter.map(record, now), record.position)
                prepared.mapped.append((record, mapped))
                prepared.summary.warnings += [
                    Refusal(record.source, record.position, None, w) for w in mapped.warnings
                ]
            except RecordRefused as refusal:
                self._refuse(prepared, record, refusal.reason, refusal.field, refusal.position)
            except Exception as exc:
                # A bug must not stop the records around it, nor lose this one: it is
                # quarantined, and the reason says it is ours, not the agency's.
                # The type only: an exception's message or traceback may quote the record.
                log.error("adapter error at %s: %s", record.position, type(exc).__name__)
                reason = f"{UNEXPECTED}: {type(exc).__name__}; report it to the ehx operators"
                self._refuse(prepared, record, reason, None, record.position)
        return prepared

    def _as_sent_by(self, mapped: MappedRecord, position: str) -> MappedRecord:
        """The record as this organisation's: named by it, or refused as another's."""
        if self.organisation is None:
            return mapped
        named = {e.source.organisation for e in mapped.events} - {None}
        if named - {self.organisation}:
            raise RecordRefused(
                self.adapter.agency.value,
                position,
                f"the record names organisation {', '.join(sorted(map(str, named)))}, "
                f"but it was sent as {self.organisation}'s",
                "organisation",
            )
        if named:  # it names its sender already: nothing to copy (the usual case)
            return mapped
        events = tuple(
            e.model_copy(
                update={"source": e.source.model_copy(update={"organisation": self.organisation})}
            )
            for e in mapped.events
        )
        return dataclasses.replace(mapped, events=events)

    def _refuse(
        self, batch: _Batch, record: RawRecord, reason: str, field: str | None, position: str
    ) -> None:
        batch.summary.refused.append(Refusal(record.source, position, field, reason))
        entry = self._quarantine(record, reason, field, position, batch.now)
        batch.quarantined.append(
            OutboundMessage(
                Topic.QUARANTINE.value,
                self.adapter.agency.value.encode(),
                entry.model_dump_json().encode(),
                (("ehx-stage", self.stage.encode()),),
            )
        )
        batch.audits.append(audit_message(refused_record(entry, replayable=False)))

    async def _publish(
        self, run: _Run, batch: _Batch, reserving: asyncio.Future[list[Verdict]]
    ) -> None:
        """Act on the registry's verdicts, sign, and put the batch on the wire."""
        verdicts = await reserving
        summary = batch.summary
        to_sign: list[tuple[str, CanonicalEvent]] = []
        spans: list[Span] = []
        tracing = telemetry.tracing()
        published: list[tuple[str, int]] = []
        for (record, result), verdict in zip(batch.mapped, verdicts, strict=True):
            if verdict.outcome is Outcome.DUPLICATE:
                summary.duplicates += 1
                continue
            if verdict.outcome is Outcome.STALE:
                reason = (
                    f"stale: version {result.version} is older than version "
                    f"{verdict.known_version} already received"
                )
                self._refuse(batch, record, reason, "version", record.position)
                continue
            if verdict.outcome is Outcome.CONFLICT:
                reason = (
                    f"version {result.version} was already received with different content; "
                    "send a higher version to correct it"
                )
                self._refuse(batch, record, reason, "version", record.position)
                continue
            assert verdict.outcome in PUBLISHES
            summary.accepted += 1
            summary.superseded += verdict.outcome is Outcome.SUPERSEDES
            summary.resumed += verdict.outcome is Outcome.RESUME
            for event, event_id in zip(result.events, verdict.event_ids, strict=True):
                # Resuming a crashed ingest publishes under the ids reserved then.
                if str(event.event_id) != event_id:
                    event = event.model_copy(update={"event_id": UUID(event_id)})
                # Each event's journey is one trace, from here to the timeline and alert
                # (no per-event work at all when nothing is exported).
                if tracing:
                    span = telemetry.start_trace(self.stage, event_id, self.adapter.agency.value)
                    spans.append(span)
                    traceparent = telemetry.traceparent_of(span)
                    if traceparent is not None:
                        event = event.model_copy(
                            update={"trace": TraceContext(traceparent=traceparent)}
                        )
                to_sign.append((result.record_ref, event))
            published.append((result.record_ref, result.version))
        wire = self.signer.sign_batch_to_wire([event for _, event in to_sign])
        accepted_at = telemetry.accepted_now()
        outbound = [
            OutboundMessage(
                self.topic, record_ref.encode(), value, event_headers(event, accepted_at)
            )
            for (record_ref, event), value in zip(to_sign, wire, strict=True)
        ]
        summary.events_published = len(outbound)
        if to_sign:
            accepted = [str(event.event_id) for _, event in to_sign]
            batch.audits.append(
                audit_message(
                    accepted_record(self.adapter.agency.value, self.stage, accepted, batch.now)
                )
            )
        # Refusals go to quarantine, and the auditor's notes to ehx.audit, in the same
        # acknowledged batch: none is dropped.
        sent = self.publisher.publish([*outbound, *batch.quarantined, *batch.audits])
        for span in spans:
            span.end()
        if batch.quarantined:
            telemetry.quarantined.add(len(batch.quarantined), {"ehx.stage": self.stage})
        run.track(self._acknowledged(run, sent, published, batch.now), summary)
        # Let the producer hand the batch to the broker before the next one is mapped.
        await asyncio.sleep(0)

    async def _acknowledged(
        self,
        run: _Run,
        sent: Awaitable[None],
        published: list[tuple[str, int]],
        now: datetime,
    ) -> None:
        """Once the broker has acknowledged a batch, record it as published."""
        await sent
        await run.loop.run_in_executor(
            run.executor, self.registry.mark_published, self.adapter.agency, published, now
        )

    def _quarantine(
        self, record: RawRecord, reason: str, field: str | None, position: str, now: datetime
    ) -> QuarantineRecord:
        return QuarantineRecord.of(
            stage=self.stage,
            agency=self.adapter.agency.value,
            source=record.source,
            position=position,
            field=field,
            reason=reason,
            original=record.data,
            original_length=record.length,
            refused_at=now,
        )


def summary_json(summary: IngestSummary) -> str:
    return json.dumps(summary.as_dict(), indent=2)
