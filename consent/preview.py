"""``ehx consent preview``: what a recipient would see of a family, before anyone relies on it.

It decides the family's events on file afresh, under the consents on record and the
policy in force now, and says for each event what the recipient would get: nothing, or
which people and which fields, on which basis. It shows field names, not their values.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ehx.consent.decide import Decision, Outcome, decide_for, harm_hits
from ehx.consent.engine import addressees
from ehx.consent.policy import Policy
from ehx.consent.restriction import ADDRESS_FIELDS, WITHHELD, marked, restricted_in
from ehx.consent.store import ConsentStore
from ehx.schemas import CanonicalEvent
from ehx.schemas.vocabulary import Addressee


@dataclass(frozen=True)
class PreviewLine:
    event_id: str
    event_type: str
    agency: str
    occurred_at: datetime
    decision: Decision
    people: tuple[str, ...]
    fields: tuple[str, ...]
    #: Someone in the event is restricted: no address of theirs would be shown.
    address_withheld: bool = False

    def as_dict(self) -> dict[str, Any]:
        d = self.decision
        return {
            "recipient": str(d.addressee),
            "event_id": self.event_id,
            "event_type": self.event_type,
            "agency": self.agency,
            "occurred_at": self.occurred_at.isoformat(),
            "outcome": d.outcome.value,
            "basis": d.rule or ", ".join(d.consent_ids) or None,
            "lawful_basis": d.lawful_basis,
            "people": list(self.people),
            "fields": list(self.fields),
            "withheld": [w.model_dump() for w in d.withheld],
            "reason": d.reason,
            "address_withheld": WITHHELD if self.address_withheld else None,
        }


def preview(
    store: ConsentStore, policy: Policy, family_id: str, who: Addressee, now: datetime
) -> list[PreviewLine]:
    """Each of the family's events on file, as ``who`` would receive it now.

    ``who`` is one organisation (``school:103291``: only the events about people it
    serves, only those people), or a kind (``schools``: each of its organisations that
    serves someone in the family, a line each), decided as the consent service decides.
    """
    registry = store.load_registry()
    events = store.family_events({family_id})
    people = {s.person_id for e in events for s in e.subjects if s.person_id}
    known = store.restricted(people) | set(marked(events))
    lines = []
    for event in events:
        if event.source.agency.value == who.recipient.value:
            continue
        earlier = [e for e in events if e.occurred_at <= event.occurred_at]
        hits = harm_hits(
            event,
            policy,
            lambda earlier=earlier: earlier,  # type: ignore[misc]
            registry.assertions_for(event),
            registry.reversed_overrides,
        )
        for recipient, organisation, served in addressees(
            event, [who.recipient], lambda: events, {}
        ):
            if who.code is not None and organisation != who.code:
                continue
            decision = decide_for(
                event, recipient, registry.for_event(event), policy, hits, now, organisation, served
            )
            if served is not None and organisation is None and not decision.shares:
                continue  # nobody of the kind to tell
            lines.append(_line(event, decision, policy, bool(restricted_in(event, known))))
    return lines


def _line(
    event: CanonicalEvent, decision: Decision, policy: Policy, restricted: bool
) -> PreviewLine:
    fields: tuple[str, ...] = ()
    withheld = restricted and decision.shares
    if decision.view and decision.outcome is not Outcome.INDICATOR:
        fields = tuple(
            f
            for f in policy.view_fields(decision.view, event.event_type)
            if (decision.details or f not in policy.sealed_fields)
            and not (withheld and f in ADDRESS_FIELDS)
        )
    roles = {s.person_id: s.role.value for s in event.subjects}
    return PreviewLine(
        str(event.event_id),
        event.event_type.value,
        event.source.agency.value,
        event.occurred_at,
        decision,
        tuple(f"{p} ({roles.get(p, '?')})" for p in decision.shared),
        fields,
        withheld,
    )
