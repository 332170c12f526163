"""What the consent service tells the auditor: every decision, delivery, key destroyed and change.

Pure: domain objects in, ``AuditRecord`` out (ids, rules and lawful bases; never
content). The service publishes these with the output they describe, so a decision is
on ``ehx.audit`` before its offset is committed.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from consent.decide import Decision
from consent.engine import Outbox
from consent.records import ConsentRecord, HarmAssertion, OverrideReview
from consent.registry import ConsentTopicRecord
from schemas.audit import Action, AuditRecord, stable_id
from schemas.views import Retraction, ShareView

#: The consent service acts for nobody in particular: it applies the policy.
SYSTEM = "ehx:consent"
ROLE = "system"


def _bases(decision: Decision) -> tuple[str, ...]:
    return tuple(b for b in (*decision.consent_ids, decision.rule, decision.lawful_basis) if b)


def decision_record(decision: Decision, trace_id: str | None = None) -> AuditRecord:
    withheld = tuple(w.person_id for w in decision.withheld)
    return AuditRecord(
        audit_id=stable_id("decision", decision.decision_id, decision.revision),
        action=f"decision.{decision.outcome.value}",
        actor=SYSTEM,
        role=ROLE,
        agency=decision.recipient.value,
        purpose=decision.reason[:200],
        family_id=decision.family_id,
        subject_ids=tuple(sorted(set(decision.shared) | set(withheld))),
        event_ids=(str(decision.event_id), *decision.evidence_event_ids),
        bases=_bases(decision),
        at=decision.decided_at,
        trace_id=trace_id,
    )


def delivery_record(message: ShareView | Retraction, trace_id: str | None = None) -> AuditRecord:
    if isinstance(message, ShareView):
        basis = message.basis
        return AuditRecord(
            audit_id=stable_id("delivered", message.decision_id, message.revision),
            action=Action.DELIVERED,
            actor=SYSTEM,
            role=ROLE,
            agency=message.recipient,
            purpose=basis.outcome,
            family_id=message.family_id,
            subject_ids=tuple(sorted({s.person_id for s in message.subjects})),
            event_ids=(str(message.event_id),),
            bases=tuple(b for b in (*basis.consent_ids, basis.rule, basis.lawful_basis) if b),
            at=message.shared_at,
            trace_id=trace_id,
        )
    return AuditRecord(
        audit_id=stable_id("retracted", message.decision_id, message.revision),
        action=Action.RETRACTED,
        actor=SYSTEM,
        role=ROLE,
        agency=message.recipient,
        purpose=message.reason[:200],
        family_id=message.family_id,
        event_ids=(str(message.event_id),),
        at=message.retracted_at,
        trace_id=trace_id,
    )


def trace_ids(traces: dict[str, str]) -> dict[str, str]:
    """Each event's trace id, from its W3C traceparent, so an auditor can follow it."""
    found = {}
    for event_id, traceparent in traces.items():
        parts = traceparent.split("-")
        if len(parts) >= 4:
            found[event_id] = parts[1]
    return found


def outbox_records(
    outbox: Outbox, at: datetime, traces: dict[str, str] | None = None
) -> list[AuditRecord]:
    """Every decision, every delivery or retraction, every key destroyed, in that order.

    ``traces``: each event's W3C traceparent, where it has one.
    """
    ids = trace_ids(traces) if traces else {}
    records = [decision_record(d, ids.get(str(d.event_id))) for d in outbox.decisions]
    records += [delivery_record(m, ids.get(str(m.event_id))) for m in outbox.messages]
    records += [
        AuditRecord(
            audit_id=stable_id("shredded", shred.recipient, shred.person_id, *shred.key_ids),
            action=Action.KEY_DESTROYED,
            actor=SYSTEM,
            role=ROLE,
            agency=shred.recipient,
            purpose=shred.because[:200],
            subject_ids=(shred.person_id,),
            event_ids=shred.key_ids,
            at=at,
        )
        for shred in outbox.shredded
    ]
    return records


def change_record(record: ConsentTopicRecord) -> AuditRecord:
    """A consent given, refused, withdrawn or expired; an assertion; an override review."""
    if isinstance(record, ConsentRecord):
        at = record.withdrawn_at or record.recorded_at
        return AuditRecord(
            audit_id=stable_id("consent", record.consent_id, record.state.value),
            action=f"consent.{record.state.value}",
            actor=record.withdrawn_by or record.recorded_by,
            role="practitioner",
            agency=record.recorded_by_agency.value,
            purpose=record.purpose.value,
            family_id=record.subject_id if record.subject_kind.value == "family" else None,
            subject_ids=(record.subject_id,) if record.subject_kind.value == "person" else (),
            bases=(str(record.consent_id), *(r.value for r in record.recipients)),
            at=at,
        )
    if isinstance(record, HarmAssertion):
        return AuditRecord(
            audit_id=stable_id("asserted", record.assertion_id),
            action=Action.HARM_ASSERTED,
            actor=record.asserted_by,
            role="practitioner",
            agency=record.asserted_by_agency.value,
            purpose="significant harm assertion",
            family_id=record.family_id,
            subject_ids=(record.person_id,),
            bases=(str(record.assertion_id),),
            at=record.asserted_at,
        )
    assert isinstance(record, OverrideReview)
    return AuditRecord(
        audit_id=stable_id(
            "reviewed", record.override_id, record.outcome.value, record.reviewed_at
        ),
        action=Action.OVERRIDE_REVIEWED,
        actor=record.reviewed_by,
        role="manager",
        agency="mash",
        purpose=f"override {record.outcome.value}",
        event_ids=(record.override_id.split(":", 1)[0],),
        bases=(record.override_id, record.outcome.value),
        at=record.reviewed_at,
    )


def all_records(
    outbox: Outbox, changes: Iterable[ConsentTopicRecord], at: datetime
) -> list[AuditRecord]:
    return [*(change_record(c) for c in changes), *outbox_records(outbox, at)]
