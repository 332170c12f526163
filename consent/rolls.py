"""Whom an organisation serves, from the records on file (pure).

A pupil is on the roll of the school that sent the latest record about them (a pupil who
moved school is on the new school's roll from its first record); a patient is treated
by every trust that sent a record about them; a tenant is the tenant of the landlord
that sent the latest housing record about them. A school, a trust or a landlord reads
about these people only.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

from ehx.schemas import CanonicalEvent, Role


def school_roll(people: Collection[str], events: Sequence[CanonicalEvent]) -> dict[str, str]:
    """Each child's school, from the latest schools record about them in the family's file."""
    roll: dict[str, str] = {}
    for event in sorted(events, key=lambda e: e.occurred_at):
        urn = getattr(event.payload, "school_urn", None)
        if event.source.agency.value != "schools" or not urn:
            continue
        for subject in event.subjects:
            if subject.person_id and subject.person_id in people:
                roll[subject.person_id] = urn
    return roll


def serving(agency: str, events: Sequence[CanonicalEvent]) -> dict[str, frozenset[str]]:
    """Each organisation of ``agency`` (by code) and the people it serves, from records."""
    if agency == "schools":
        people = {s.person_id for e in events for s in e.subjects if s.person_id}
        by_person = {p: {urn} for p, urn in school_roll(people, events).items()}
    else:
        by_person = _relationships(agency, events)
    served: dict[str, set[str]] = {}
    for person, codes in by_person.items():
        for code in codes:
            served.setdefault(code, set()).add(person)
    return {code: frozenset(people) for code, people in sorted(served.items())}


def _relationships(agency: str, events: Sequence[CanonicalEvent]) -> dict[str, set[str]]:
    """Each person's trusts (every one treating them) or landlord (the latest)."""
    by_person: dict[str, set[str]] = {}
    for event in sorted(events, key=lambda e: e.occurred_at):
        if event.source.agency.value != agency or not event.source.organisation:
            continue
        for subject in event.subjects:
            if not subject.person_id:
                continue
            if agency == "health":  # every trust treating them (not their relatives)
                if subject.role is Role.PATIENT:
                    by_person.setdefault(subject.person_id, set()).add(event.source.organisation)
            else:  # the landlord of their latest tenancy
                by_person[subject.person_id] = {event.source.organisation}
    return by_person
