"""Which school a pupil is on the roll of (pure): the school that sent the latest record
about them. A pupil who moved school is on the new school's roll from its first record.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

from ehx.schemas import CanonicalEvent
from ehx.schemas.views import ShareView


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


def pupils_of(urn: str, events: Sequence[CanonicalEvent]) -> frozenset[str]:
    """The people on school ``urn``'s roll, from a family's records."""
    people = {s.person_id for e in events for s in e.subjects if s.person_id}
    return frozenset(p for p, school in school_roll(people, events).items() if school == urn)


def only_pupils(views: Sequence[ShareView], pupils: frozenset[str]) -> list[ShareView]:
    """A school's views: those about its pupils, naming only them (a brother at another
    school is that school's to read about)."""
    return [
        view.model_copy(update={"subjects": mine})
        for view in views
        if (mine := tuple(s for s in view.subjects if s.person_id in pupils))
    ]
