"""A restricted person's whereabouts never leave the agency that holds them.

The NHS marks a patient restricted (PDS confidentiality code R, or V) typically because
she has fled abuse and the person she fled must not find her. Once any record marks a
person so, no view of any event about her, for any recipient and on any basis (a
significant-harm override included), carries her address or postcode; nor, in an event
she is in, anyone else's address (her children's is hers) or the event's address fields
(an incident's location, a tenancy's address). Each such view says "address withheld:
restricted record" instead.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from typing import Any

from ehx.schemas import CanonicalEvent, Restriction
from ehx.schemas.vocabulary import WITHHELD

__all__ = ["ADDRESS_FIELDS", "WITHHELD", "marked", "restricted_in", "without_address"]
#: Payload fields that say where someone lives or was found.
ADDRESS_FIELDS = frozenset({"location_address", "location_postcode", "address", "postcode"})


def marked(events: Iterable[CanonicalEvent]) -> dict[str, Restriction]:
    """The people these events mark restricted (very restricted wins), by person id."""
    found: dict[str, Restriction] = {}
    for event in events:
        for subject in event.subjects:
            if subject.restriction is None or not subject.person_id:
                continue
            if found.get(subject.person_id) is not Restriction.VERY_RESTRICTED:
                found[subject.person_id] = subject.restriction
    return found


def restricted_in(event: CanonicalEvent, known: Collection[str]) -> frozenset[str]:
    """The people of ``event`` who are restricted: marked here, or known to be."""
    return frozenset(
        s.person_id or "unlinked"
        for s in event.subjects
        if s.restriction is not None or (s.person_id and s.person_id in known)
    )


def without_address(demographics: dict[str, Any]) -> dict[str, Any]:
    """A person's demographics with where they live taken out."""
    return {**demographics, "address": None, "postcode": None, "address_withheld": WITHHELD}
