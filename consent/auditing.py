"""What the auditor learns of the consent service: every decision, delivery, retraction,
key destroyed and change.

Pure: domain objects in, ``AuditRecord`` out (ids, rules and lawful bases; never
content). Each decision goes on the wire once, on ``ehx.decisions``, published with the
views it sent before the batch's offset is committed; the audit ledger reads that topic
too and records the decision, and the delivery it made, from it (``decision_acts``), so
consent does not publish the same decision a second time as audit records (eight of
them an incident: a fifth of the consent service's own time, measured). What the
decisions do not say (retractions, keys destroyed, consent changes) consent publishes on
``ehx.audit`` itself, with the output they describe.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime

from ehx.consent.decide import Decision
from ehx.consent.engine import Outbox
from ehx.consent.records import ConsentRecord, HarmAssertion, OverrideReview
from ehx.consent.registry import ConsentTopicRecord
from ehx.schemas.audit import Action, AuditRecord, stable_id
from ehx.schemas.views import Retraction

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
        agency=str(decision.addressee),
        purpose=decision.reason[:200],
        family_id=decision.family_id,
        subject_ids=tuple(sorted(set(decision.shared) | set(withheld))),
        event_ids=(str(decision.event_id), *decision.evidence_event_ids),
        bases=_bases(decision),
        at=decision.decided_at,
        trace_id=trace_id,
    )


def delivered_record(decision: Decision, trace_id: str | None = None) -> AuditRecord:
    """The delivery a sharing decision made: its view went out in the same publish, to
    the same recipient, with these people in it, on this basis, at this time."""
    return AuditRecord(
        audit_id=stable_id("delivered", decision.decision_id, decision.revision),
        action=Action.DELIVERED,
        actor=SYSTEM,
        role=ROLE,
        agency=str(decision.addressee),
        purpose=decision.outcome.value,
        family_id=decision.family_id,
        subject_ids=tuple(sorted(set(decision.shared))),
        event_ids=(str(decision.event_id),),
        bases=_bases(decision),
        at=decision.decided_at,
        trace_id=trace_id,
    )


def decision_acts(decision: Decision, trace_id: str | None = None) -> list[AuditRecord]:
    """What the ledger records of one decision it reads off ``ehx.decisions``: the
    decision, and the delivery it made if it shares."""
    if decision.shares:
        return [decision_record(decision, trace_id), delivered_record(decision, trace_id)]
    return [decision_record(decision, trace_id)]


def retracted_record(message: Retraction, trace_id: str | None = None) -> AuditRecord:
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


def trace_id_of(traceparent: str | None) -> str | None:
    """An event's trace id, from its W3C traceparent, so an auditor can follow it."""
    parts = traceparent.split("-") if traceparent else []
    return parts[1] if len(parts) >= 4 else None


def consent_acts(
    outbox: Outbox, at: datetime, traces: Mapping[str, str] | None = None
) -> list[AuditRecord]:
    """What the consent service itself puts on ``ehx.audit`` for an outbox: every
    retraction and every key destroyed (its decisions and deliveries reach the ledger
    from ``ehx.decisions``). ``traces``: each event's W3C traceparent, where it has one."""
    traced = traces or {}
    records = [
        retracted_record(m, trace_id_of(traced.get(str(m.event_id))))
        for m in outbox.messages
        if isinstance(m, Retraction)
    ]
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


def outbox_records(
    outbox: Outbox, at: datetime, traces: dict[str, str] | None = None
) -> list[AuditRecord]:
    """Everything the ledger comes to hold of an outbox, by either topic: each decision and
    the delivery it made, then each retraction and key destroyed.

    ``traces``: each event's W3C traceparent, where it has one.
    """
    traced = traces or {}
    records = [
        act
        for d in outbox.decisions
        for act in decision_acts(d, trace_id_of(traced.get(str(d.event_id))))
    ]
    return records + consent_acts(outbox, at, traced)


def change_record(record: ConsentTopicRecord) -> AuditRecord:
    """A consent given, refused, withdrawn or expired; an assertion; an override review."""
    if isinstance(record, ConsentRecord):
        at = record.withdrawn_at or record.recorded_at
        return AuditRecord(
            audit_id=stable_id("consent", record.consent_id, record.state.value),
            action=f"consent.{record.state.value}",
            actor=record.withdrawn_by or record.recorded_by,
            role=record.withdrawn_by_role or "practitioner",
            agency=(record.withdrawn_by_agency or record.recorded_by_agency).value,
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
    """Everything the ledger comes to hold of consent changes and what they re-decided."""
    return [*(change_record(c) for c in changes), *outbox_records(outbox, at)]


def published_records(
    outbox: Outbox, changes: Iterable[ConsentTopicRecord], at: datetime
) -> list[AuditRecord]:
    """What the consent service itself puts on ``ehx.audit`` for changes and an outbox."""
    return [*(change_record(c) for c in changes), *consent_acts(outbox, at)]
