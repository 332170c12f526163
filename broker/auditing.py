"""What each stage records on ``ehx.audit``: one key (the actor), one header (the act)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from ehx.broker.publishing import OutboundMessage
from ehx.broker.topics import Topic
from ehx.schemas.audit import Action, AuditRecord, stable_id
from ehx.schemas.quarantine import QuarantineRecord


def audit_message(record: AuditRecord) -> OutboundMessage:
    """An audit record as it goes on ``ehx.audit``: keyed by its actor, its act in a header.

    Publish it with the stage's other output, before the stage commits its offsets.
    """
    return OutboundMessage(
        Topic.AUDIT.value,
        record.actor.encode(),
        record.model_dump_json().encode(),
        (("ehx-action", record.action.encode()),),
    )


def audit_messages(records: Iterable[AuditRecord]) -> list[OutboundMessage]:
    return [audit_message(record) for record in records]


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
