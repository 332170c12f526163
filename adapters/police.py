"""Police: JSON Lines, one incident per line, one event about every person in it."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime
from typing import IO, Annotated, ClassVar, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

from ehx.adapters.base import MappedRecord, build_event, require_past, validate
from ehx.adapters.checks import OrganisationCode
from ehx.adapters.framing import RawRecord, read_lines
from ehx.schemas import (
    Agency,
    Category,
    EventType,
    RecordRefused,
    Role,
    Sensitivity,
)
from ehx.schemas.payloads import DashRisk, IncidentType

Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=20_000)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=False)


class _Location(_Strict):
    address: Text
    postcode: Text


class _Person(_Strict):
    person_ref: Text
    pnc_id: Text | None
    given_name: Text
    family_name: Text
    date_of_birth: date | None
    role: Literal[
        "victim",
        "suspect",
        "witness",
        "child_present",
        "missing_person",
        "subject",
        "reporting_person",
    ]
    address: Text
    postcode: Text | None


class _Officer(_Strict):
    collar_number: Text
    name: Text


class PoliceRecord(_Strict):
    """The police incident format of ``formats/README.md``."""

    incident_ref: Text
    version: Annotated[int, Field(ge=1, strict=True)]
    force: Text
    #: The sender's code in the council's directory of organisations (optional).
    force_code: OrganisationCode | None = None
    occurred_at: AwareDatetime
    reported_at: AwareDatetime
    type: IncidentType
    summary: Annotated[str, StringConstraints(max_length=100_000)]
    location: _Location
    dash_risk: DashRisk | None
    children_present: Annotated[bool, Field(strict=True)]
    weapon_involved: Annotated[bool, Field(strict=True)]
    persons: Annotated[list[_Person], Field(min_length=1)]
    officer: _Officer


CATEGORIES: dict[str, tuple[Category, ...]] = {
    "domestic_abuse": (Category.DOMESTIC_ABUSE, Category.CRIME_ASB),
    "missing_person": (Category.MISSING,),
    "weapon": (Category.CRIME_ASB,),
    "assault": (Category.CRIME_ASB,),
    "antisocial_behaviour": (Category.CRIME_ASB,),
    "child_sexual_exploitation_concern": (Category.EXPLOITATION, Category.SAFEGUARDING_CONCERN),
    "welfare_concern": (Category.SAFEGUARDING_CONCERN,),
    "arrest": (Category.CRIME_ASB,),
    "other": (),
}


class PoliceAdapter:
    """Maps police incidents to ``police.incident`` events."""

    agency: ClassVar[Agency] = Agency.POLICE
    content_types: ClassVar[tuple[str, ...]] = ("application/x-ndjson", "application/json")

    def frame(self, stream: IO[bytes], source: str) -> Iterator[RawRecord]:
        return read_lines(stream, source)

    def map(self, record: RawRecord, now: datetime) -> MappedRecord:
        incident = validate(PoliceRecord, record, self.agency)
        position = record.position
        require_past(self.agency, position, "occurred_at", incident.occurred_at, now)
        require_past(self.agency, position, "reported_at", incident.reported_at, now)
        if incident.reported_at < incident.occurred_at:
            raise RecordRefused(
                self.agency.value, position, "reported before it occurred", "reported_at"
            )
        for index, person in enumerate(incident.persons):
            require_past(
                self.agency, position, f"persons.{index}.date_of_birth", person.date_of_birth, now
            )
        subjects = tuple(
            dict(
                identifiers=dict(pnc_id=person.pnc_id, agency_person_ref=person.person_ref),
                demographics=dict(
                    given_name=person.given_name,
                    family_name=person.family_name,
                    date_of_birth=person.date_of_birth,
                    address=person.address,
                    postcode=person.postcode,
                ),
                role=Role(person.role),
            )
            for person in incident.persons
        )
        event = build_event(
            source=dict(
                agency=self.agency,
                system=incident.force,
                organisation=incident.force_code,
                record_ref=incident.incident_ref,
                record_version=incident.version,
            ),
            event_type=EventType.POLICE_INCIDENT,
            occurred_at=incident.occurred_at,
            recorded_at=now,
            subjects=subjects,
            categories=CATEGORIES[incident.type],
            sensitivity=Sensitivity.SENSITIVE,
            payload=dict(
                kind="police.incident",
                force=incident.force,
                incident_type=incident.type,
                reported_at=incident.reported_at,
                dash_risk=incident.dash_risk,
                children_present=incident.children_present,
                weapon_involved=incident.weapon_involved,
                summary=incident.summary,
                location_address=incident.location.address,
                location_postcode=incident.location.postcode,
                officer_collar_number=incident.officer.collar_number,
            ),
        )
        return MappedRecord(incident.incident_ref, incident.version, (event,))
