"""Typed payloads, one per event type; the ``kind`` field tells them apart on the wire.

Free-text fields (``summary``, ``reason``, ``description``) are the most sensitive
parts of an event: recipient views drop them unless policy allows, and they are
never logged.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, NonNegativeInt

#: The closed lists of the agencies' formats, shared by the adapters' inbound models.
IncidentType = Literal[
    "domestic_abuse",
    "missing_person",
    "weapon",
    "assault",
    "antisocial_behaviour",
    "child_sexual_exploitation_concern",
    "welfare_concern",
    "arrest",
    "other",
]
DashRisk = Literal["standard", "medium", "high"]
HousingEventType = Literal[
    "rent_arrears",
    "notice_seeking_possession",
    "eviction",
    "homelessness_application",
    "temporary_accommodation",
    "overcrowding",
    "antisocial_behaviour_complaint",
    "disrepair",
]
ExclusionType = Literal["suspension", "permanent"]
ExclusionReason = Literal["PA", "PP", "VA", "DB", "DM", "OT"]
ConcernCategory = Literal[
    "disclosure",
    "neglect",
    "physical_abuse",
    "emotional_abuse",
    "sexual_abuse",
    "domestic_abuse",
    "self_harm",
    "other",
]
ConcernLevel = Literal["low", "medium", "high", "significant_harm"]


class _Payload(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


class PoliceIncident(_Payload):
    """A police incident: domestic abuse, a missing episode, a weapon, and so on."""

    kind: Literal["police.incident"] = "police.incident"
    force: str
    incident_type: IncidentType
    reported_at: AwareDatetime
    dash_risk: DashRisk | None
    children_present: bool
    weapon_involved: bool
    summary: str
    location_address: str
    location_postcode: str
    officer_collar_number: str


class Coding(_Payload):
    """A coded value as the sender coded it (a SNOMED CT concept, an HL7 code)."""

    system: str | None = None
    code: str | None = None
    display: str | None = None


class HealthEncounter(_Payload):
    """An emergency attendance, an outpatient contact or a health visitor's home visit."""

    kind: Literal["health.encounter"] = "health.encounter"
    encounter_class: Literal["EMER", "AMB", "HH"]
    period_start: AwareDatetime
    period_end: AwareDatetime | None = None
    reason: str | None = None
    service_provider: str | None = None
    #: The reason as coded, kept beside the words in ``reason``.
    reason_codes: tuple[Coding, ...] = ()


class HealthNotBrought(_Payload):
    """A child who was not brought to an appointment (FHIR Appointment, status noshow)."""

    kind: Literal["health.not_brought"] = "health.not_brought"
    service: str | None = None
    appointment_start: AwareDatetime
    #: The service as coded, kept beside the words in ``service``.
    service_codes: tuple[Coding, ...] = ()


class HealthFlag(_Payload):
    """A standing flag: child protection plan, looked after child, and so on."""

    kind: Literal["health.flag"] = "health.flag"
    flag: str
    flag_kind: Literal[
        "child_protection_plan", "looked_after_child", "unborn_child_protection_plan", "other"
    ]
    period_start: datetime | date | None = None
    period_end: datetime | date | None = None


class SchoolAttendance(_Payload):
    """Sessions possible and attended for the period ending on the record date."""

    kind: Literal["schools.attendance_summary"] = "schools.attendance_summary"
    school_urn: str
    school_name: str
    period_end: date
    sessions_possible: Annotated[int, Field(gt=0)]
    sessions_attended: NonNegativeInt
    attendance_rate: Annotated[float, Field(ge=0, le=1)]
    absence_band: Literal["none", "persistent", "severe"]


class SchoolExclusion(_Payload):
    """A suspension or permanent exclusion, with its DfE reason code."""

    kind: Literal["schools.exclusion"] = "schools.exclusion"
    school_urn: str
    school_name: str
    exclusion_type: ExclusionType
    reason_code: ExclusionReason
    description: str


class SchoolConcern(_Payload):
    """A safeguarding concern recorded by a school."""

    kind: Literal["schools.safeguarding_concern"] = "schools.safeguarding_concern"
    school_urn: str
    school_name: str
    concern_category: ConcernCategory
    concern_level: ConcernLevel
    description: str


class MissingEducation(_Payload):
    """A child off roll with no known destination."""

    kind: Literal["schools.missing_education"] = "schools.missing_education"
    school_urn: str
    school_name: str
    description: str = ""


class HousingEvent(_Payload):
    """A tenancy event: arrears, notices, eviction, homelessness, and so on."""

    kind: Literal["housing.event"] = "housing.event"
    landlord: str
    tenancy_ref: str | None
    housing_event_type: HousingEventType
    address: str
    postcode: str
    arrears_gbp: float | None = None
    bedrooms: int | None = None
    description: str


Payload = Annotated[
    PoliceIncident
    | HealthEncounter
    | HealthNotBrought
    | HealthFlag
    | SchoolAttendance
    | SchoolExclusion
    | SchoolConcern
    | MissingEducation
    | HousingEvent,
    Field(discriminator="kind"),
]
