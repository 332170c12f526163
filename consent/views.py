"""From a decision to the recipient's view: only the people and fields policy allows, sealed."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ehx.consent.decide import Decision, Outcome
from ehx.consent.keys import KeyVault, seal
from ehx.consent.policy import Policy
from ehx.consent.restriction import ADDRESS_FIELDS, without_address
from ehx.consent.retention import period as retention_period
from ehx.schemas import CanonicalEvent
from ehx.schemas.views import Basis, Retraction, SealedBox, ShareView, ViewSubject


def seal_context(event_id: object, recipient: str, part: str) -> str:
    """What a sealed box is bound to: it opens only for this event, recipient and part."""
    return f"{event_id}|{recipient}|{part}"


def build_view(
    event: CanonicalEvent,
    decision: Decision,
    policy: Policy,
    vault: KeyVault,
    now: datetime,
    revision: int = 1,
    school_roll: dict[str, str] | None = None,
    restricted: frozenset[str] = frozenset(),
) -> ShareView:
    """The recipient's view of ``event`` under ``decision`` (which must share).

    ``restricted``: the event's people known to be restricted (see ``restriction``).
    Where there is one, nobody's address in the event is in the view, nor the event's
    address fields: a child's or partner's address is usually hers."""
    assert decision.shares, "only a sharing decision has a view"
    recipient = str(decision.addressee)
    # Sealed under the keys of the retention period it falls in: they go when it expires.
    period = retention_period(
        policy.retention.entry_for(
            decision.addressee.recipient,
            decision.outcome.value,
            (c.value for c in event.categories),
        ),
        event.occurred_at,
    )
    shared = set(decision.shared)
    indicator = decision.outcome is Outcome.INDICATOR
    subjects = []
    for subject in event.subjects:
        person_id = subject.person_id or "unlinked"
        if person_id not in shared:
            continue
        demographics = None
        hidden = bool(restricted)
        if not indicator:
            shown = subject.demographics.model_dump(mode="json")
            demographics = seal(
                vault,
                recipient,
                [person_id],
                seal_context(event.event_id, recipient, f"person:{person_id}"),
                without_address(shown) if hidden else shown,
                period,
            )
        subjects.append(
            ViewSubject(
                person_id=person_id,
                role=subject.role.value,
                demographics=demographics,
                address_withheld=hidden,
            )
        )
    fields: dict[str, Any] = {}
    details: dict[str, Any] = {}
    if not indicator and decision.view:
        payload = event.payload.model_dump(mode="json")
        for name in policy.view_fields(decision.view, event.event_type):
            if restricted and name in ADDRESS_FIELDS:
                continue
            if name in policy.sealed_fields:
                if decision.details:
                    details[name] = payload.get(name)
            else:
                fields[name] = payload.get(name)
    categories = event.categories
    if indicator:
        categories = tuple(c for c in categories if c in policy.indicators.categories)
    return ShareView(
        event_id=event.event_id,
        decision_id=decision.decision_id,
        revision=revision,
        recipient=recipient,
        family_id=decision.family_id,
        source_agency=event.source.agency.value,
        source_organisation=event.source.organisation,
        record_ref=event.source.record_ref,
        record_version=event.source.record_version,
        event_type=event.event_type.value,
        occurred_at=event.occurred_at,
        categories=tuple(c.value for c in categories),
        basis=Basis(
            outcome=decision.outcome.value,
            consent_ids=decision.consent_ids,
            rule=decision.rule,
            lawful_basis=decision.lawful_basis,
            notified=decision.notified,
            signs=decision.signs,
        ),
        subjects=tuple(subjects),
        facts=_sealed(vault, recipient, subjects, event, "facts", fields, period),
        details=_sealed(vault, recipient, subjects, event, "details", details, period),
        contact=(
            policy.contacts.get(event.source.agency.value)
            if decision.outcome is Outcome.NOTIFY
            else None
        ),
        school_roll=school_roll or {},
        address_withheld=bool(restricted),
        shared_at=now,
    )


def _sealed(
    vault: KeyVault,
    recipient: str,
    subjects: list[ViewSubject],
    event: CanonicalEvent,
    part: str,
    data: dict[str, Any],
    period: str,
) -> SealedBox | None:
    """``data`` sealed so that any one of the shared people's keys opens it (an event
    about a mother and her child stays readable for the child's sake if her keys go)."""
    if not data or not subjects:
        return None
    return seal(
        vault,
        recipient,
        [s.person_id for s in subjects],
        seal_context(event.event_id, recipient, part),
        data,
        period,
    )


def retraction(decision: Decision, reason: str, now: datetime, revision: int) -> Retraction:
    """Tell the recipient to drop an event it holds."""
    return Retraction(
        event_id=decision.event_id,
        decision_id=decision.decision_id,
        revision=revision,
        recipient=str(decision.addressee),
        family_id=decision.family_id,
        reason=reason,
        retracted_at=now,
    )
