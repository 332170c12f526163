"""Putting audit records on ``ehx.audit``: one key (the actor), one header (the act)."""

from __future__ import annotations

from collections.abc import Awaitable, Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from faststream.kafka import KafkaBroker

from broker.topics import Topic
from schemas.audit import Action, AuditRecord, stable_id
from schemas.quarantine import QuarantineRecord

if TYPE_CHECKING:  # adapters import this module: no cycle at run time
    from adapters.publisher import OutboundMessage


def audit_message(record: AuditRecord) -> OutboundMessage:
    """For publishers outside a FastStream app (the CLI, the ingestor)."""
    from adapters.publisher import OutboundMessage

    return OutboundMessage(
        Topic.AUDIT.value,
        record.actor.encode(),
        record.model_dump_json().encode(),
        (("ehx-action", record.action.encode()),),
    )


#: A producer batch holds 16 KB by default; audit records are a few hundred bytes each.
BATCH_BYTES = 12_000


def publish_audits(broker: KafkaBroker, records: Iterable[AuditRecord]) -> list[Awaitable[Any]]:
    """Await these with the stage's other output, before its offsets are committed.

    A producer batch per 12 KB of records (``ehx.audit`` has one partition, so keys do
    not place them, and the ledger orders by arrival): a decision batch of thousands
    costs tens of calls, not thousands.
    """
    sends: list[Awaitable[Any]] = []
    chunk: list[bytes] = []
    size = 0
    for record in records:
        body = record.model_dump_json().encode()
        if chunk and size + len(body) > BATCH_BYTES:
            sends.append(broker.publish_batch(*chunk, topic=Topic.AUDIT.value))
            chunk, size = [], 0
        chunk.append(body)
        size += len(body) + 100  # the record's own overhead in the batch
    if chunk:
        sends.append(broker.publish_batch(*chunk, topic=Topic.AUDIT.value))
    return sends


def refused_record(entry: QuarantineRecord, *, replayable: bool) -> AuditRecord:
    """The auditor's note of a refusal: where and why, never the bytes refused.

    ``replayable``: the refusal is of a Kafka message, which a stage replaying its batch
    after a crash refuses again at the same position; it is then one act, one entry.
    """
    return AuditRecord(
        audit_id=(
            stable_id("refused", entry.stage, entry.source, entry.position)
            if replayable
            else entry.quarantine_id
        ),
        action=Action.RECORD_REFUSED,
        actor=f"ehx:{entry.stage}",
        role="system",
        agency=entry.agency or "unknown",
        purpose=entry.reason[:200],
        event_ids=(str(entry.quarantine_id),),
        at=entry.refused_at,
    )


def accepted_record(agency: str, stage: str, event_ids: list[str], at: datetime) -> AuditRecord:
    """One note per published batch: which events an agency's records became."""
    return AuditRecord(
        audit_id=stable_id("accepted", *sorted(event_ids)),
        action=Action.RECORD_ACCEPTED,
        actor=f"ehx:{stage}",
        role="system",
        agency=agency,
        purpose="record submitted",
        event_ids=tuple(event_ids),
        at=at,
    )
