"""The one ingest pipeline every way in uses: frame → map → classify → sign → publish.

The CLI's ``ehx ingest``, the watched folder and the HTTP endpoint all hand their bytes
to ``Ingestor``; only how the bytes arrive differs.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import islice
from typing import IO
from uuid import UUID

from adapters.base import AgencyAdapter, MappedRecord
from adapters.framing import RawRecord
from adapters.publisher import MessagePublisher, OutboundMessage
from adapters.registry import PUBLISHES, Claim, Outcome, RecordRegistry
from broker.topics import Topic
from schemas import CanonicalEvent, EventSigner, RecordRefused, canonical_json
from schemas.quarantine import QuarantineRecord

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

    def merge(self, other: IngestSummary) -> None:
        self.records += other.records
        self.accepted += other.accepted
        self.events_published += other.events_published
        self.superseded += other.superseded
        self.resumed += other.resumed
        self.duplicates += other.duplicates
        self.refused.extend(other.refused)

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
        }


def content_hash(record: RawRecord) -> str:
    """The same record resent with different whitespace or key order hashes the same."""
    return hashlib.sha256(canonical_json(record.parsed)).hexdigest()


def event_headers(event: CanonicalEvent) -> tuple[tuple[str, bytes], ...]:
    headers = [
        ("ehx-event-id", str(event.event_id).encode()),
        ("ehx-event-type", event.event_type.value.encode()),
        ("ehx-agency", event.source.agency.value.encode()),
        ("ehx-schema-version", str(event.schema_version).encode()),
    ]
    if event.trace is not None:
        headers.append(("traceparent", event.trace.traceparent.encode()))
    return tuple(headers)


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
    ) -> None:
        if signer.agency is not adapter.agency:
            raise ValueError(f"a {signer.agency} key cannot sign {adapter.agency} records")
        self.adapter = adapter
        self.registry = registry
        self.signer = signer
        self.publisher = publisher
        self.clock = clock
        self.topic = Topic.raw(adapter.agency)
        self.stage = f"adapter.{adapter.agency.value}"

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
        """
        summary = IngestSummary(self.adapter.agency.value)
        frames = (frame or self.adapter.frame)(stream, source)
        for batch in _batches(frames, BATCH):
            summary.merge(await self._ingest_batch(batch))
            if on_progress is not None:
                on_progress(stream.tell() if stream.seekable() else 0)
        return summary

    async def _ingest_batch(self, batch: list[RawRecord]) -> IngestSummary:
        now = self.clock()
        summary = IngestSummary(self.adapter.agency.value)
        quarantined: list[OutboundMessage] = []
        mapped: list[tuple[RawRecord, MappedRecord]] = []

        def refuse(record: RawRecord, reason: str, field: str | None, position: str) -> None:
            summary.refused.append(Refusal(record.source, position, field, reason))
            quarantined.append(self._quarantine(record, reason, field, position, now))

        for record in batch:
            summary.records += 1
            if record.problem is not None:
                refuse(record, record.problem, None, record.position)
                continue
            try:
                mapped.append((record, self.adapter.map(record, now)))
            except RecordRefused as refusal:
                refuse(record, refusal.reason, refusal.field, refusal.position)
            except Exception as exc:
                # A bug must not stop the records around it, nor lose this one: it is
                # quarantined, and the reason says it is ours, not the agency's.
                # The type only: an exception's message or traceback may quote the record.
                log.error("adapter error at %s: %s", record.position, type(exc).__name__)
                reason = f"{UNEXPECTED}: {type(exc).__name__}; report it to the ehx operators"
                refuse(record, reason, None, record.position)

        claims = [
            Claim(
                result.record_ref,
                result.version,
                content_hash(record),
                tuple(str(event.event_id) for event in result.events),
            )
            for record, result in mapped
        ]
        verdicts = await asyncio.to_thread(self.registry.reserve, self.adapter.agency, claims, now)

        outbound: list[OutboundMessage] = []
        published: list[tuple[str, int]] = []
        for (record, result), verdict in zip(mapped, verdicts, strict=True):
            if verdict.outcome is Outcome.DUPLICATE:
                summary.duplicates += 1
                continue
            if verdict.outcome is Outcome.STALE:
                reason = (
                    f"stale: version {result.version} is older than version "
                    f"{verdict.known_version} already received"
                )
                refuse(record, reason, "version", record.position)
                continue
            if verdict.outcome is Outcome.CONFLICT:
                reason = (
                    f"version {result.version} was already received with different content; "
                    "send a higher version to correct it"
                )
                refuse(record, reason, "version", record.position)
                continue
            assert verdict.outcome in PUBLISHES
            summary.accepted += 1
            summary.superseded += verdict.outcome is Outcome.SUPERSEDES
            summary.resumed += verdict.outcome is Outcome.RESUME
            for event, event_id in zip(result.events, verdict.event_ids, strict=True):
                signed = self.signer.sign(event.model_copy(update={"event_id": UUID(event_id)}))
                outbound.append(
                    OutboundMessage(
                        self.topic.value,
                        result.record_ref.encode(),
                        signed.to_bytes(),
                        event_headers(signed),
                    )
                )
            published.append((result.record_ref, result.version))
        # Refusals go to quarantine in the same acknowledged batch: none is dropped.
        await self.publisher.publish([*outbound, *quarantined])
        summary.events_published = len(outbound)
        await asyncio.to_thread(self.registry.mark_published, self.adapter.agency, published, now)
        return summary

    def _quarantine(
        self, record: RawRecord, reason: str, field: str | None, position: str, now: datetime
    ) -> OutboundMessage:
        entry = QuarantineRecord.of(
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
        return OutboundMessage(
            Topic.QUARANTINE.value,
            self.adapter.agency.value.encode(),
            entry.model_dump_json().encode(),
            (("ehx-stage", self.stage.encode()),),
        )


def summary_json(summary: IngestSummary) -> str:
    return json.dumps(summary.as_dict(), indent=2)
