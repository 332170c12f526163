"""From a canonical event to the mentions of people in it, as linking needs them."""

from __future__ import annotations

from dataclasses import dataclass

from ehx.linker.compare import PersonRecord
from ehx.linker.families import household_key
from ehx.schemas import CanonicalEvent, Role

#: Roles whose relationship to the others is stated by the source, not inferred.
_STATED = frozenset({Role.PATIENT, Role.RELATED_PERSON, Role.LEAD_TENANT, Role.PARTNER})


@dataclass(frozen=True)
class Mention:
    """One person as one event names them."""

    record: PersonRecord
    role: str
    household: str | None
    related: bool
    restricted: bool = False


def mentions_of(event: CanonicalEvent) -> list[Mention]:
    """Each subject of the event as a mention, with identifiers namespaced by kind."""
    agency = event.source.agency.value
    housing = event.event_type.value == "housing.event"
    health = event.source.agency.value == "health"
    found = []
    for subject in event.subjects:
        ids = subject.identifiers
        identifiers = set()
        if ids.nhs_number:
            identifiers.add(f"nhs:{ids.nhs_number}")
        if ids.upn:
            identifiers.add(f"upn:{ids.upn}")
        if ids.pnc_id:
            identifiers.add(f"pnc:{ids.pnc_id}")
        if ids.agency_person_ref:
            identifiers.add(f"ref:{agency}:{ids.agency_person_ref}")
        demo = subject.demographics
        found.append(
            Mention(
                PersonRecord(
                    demo.given_name,
                    demo.family_name,
                    demo.date_of_birth,
                    demo.postcode,
                    frozenset(identifiers),
                ),
                subject.role.value,
                household_key(demo.address, demo.postcode),
                related=housing or (health and subject.role in _STATED),
                restricted=subject.restriction is not None,
            )
        )
    return found
