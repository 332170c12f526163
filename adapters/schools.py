"""Schools: CSV with a fixed header, one row per record, about one pupil."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, time
from typing import IO, Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from ehx.adapters.base import MappedRecord, build_event, require_past, validate
from ehx.adapters.checks import upn_problem
from ehx.adapters.framing import RawRecord, read_csv
from ehx.schemas import (
    Agency,
    Category,
    EventType,
    RecordRefused,
    Role,
    Sensitivity,
)
from ehx.schemas.payloads import ConcernCategory, ConcernLevel, ExclusionReason, ExclusionType

HEADER: tuple[str, ...] = (
    "record_ref",
    "version",
    "upn",
    "given_name",
    "family_name",
    "date_of_birth",
    "school_urn",
    "school_name",
    "record_type",
    "record_date",
    "sessions_possible",
    "sessions_attended",
    "exclusion_type",
    "exclusion_reason",
    "concern_category",
    "concern_level",
    "description",
    "address",
    "postcode",
)

Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=20_000)]
Empty = Literal[""]

#: The columns each record type uses; every other optional column must be empty.
_USES: dict[str, frozenset[str]] = {
    "attendance_summary": frozenset({"sessions_possible", "sessions_attended"}),
    "exclusion": frozenset({"exclusion_type", "exclusion_reason", "description"}),
    "safeguarding_concern": frozenset({"concern_category", "concern_level", "description"}),
    "missing_education": frozenset({"description"}),
}
_OPTIONAL = frozenset().union(*_USES.values())
_REQUIRED_BY_TYPE: dict[str, frozenset[str]] = {
    "attendance_summary": frozenset({"sessions_possible", "sessions_attended"}),
    "exclusion": frozenset({"exclusion_type", "exclusion_reason"}),
    "safeguarding_concern": frozenset({"concern_category", "concern_level", "description"}),
    "missing_education": frozenset(),
}

# DfE: below 90% attendance is persistent absence, below 50% severe absence.
PERSISTENT_BELOW = 0.9
SEVERE_BELOW = 0.5


class SchoolRecord(BaseModel):
    """One row of the schools CSV, with the rules of ``formats/README.md``."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    record_ref: Text
    version: Annotated[int, Field(ge=1)]
    upn: Text
    given_name: Text
    family_name: Text
    date_of_birth: date
    school_urn: Annotated[str, StringConstraints(pattern=r"^\d{6}$")]
    school_name: Text
    record_type: Literal[
        "attendance_summary", "exclusion", "safeguarding_concern", "missing_education"
    ]
    record_date: date
    sessions_possible: Annotated[int, Field(gt=0)] | Empty
    sessions_attended: Annotated[int, Field(ge=0)] | Empty
    exclusion_type: ExclusionType | Empty
    exclusion_reason: ExclusionReason | Empty
    concern_category: ConcernCategory | Empty
    concern_level: ConcernLevel | Empty
    description: Annotated[str, StringConstraints(max_length=100_000)]
    address: Text
    postcode: Text

    @model_validator(mode="after")
    def _columns_fit_type(self) -> SchoolRecord:
        uses = _USES[self.record_type]
        for column in sorted(_OPTIONAL - uses):
            if getattr(self, column) != "":
                raise ValueError(f"{column} must be empty for a {self.record_type} record")
        for column in sorted(_REQUIRED_BY_TYPE[self.record_type]):
            if getattr(self, column) == "":
                raise ValueError(f"{column} is required for a {self.record_type} record")
        if (
            self.record_type == "attendance_summary"
            and isinstance(self.sessions_possible, int)
            and isinstance(self.sessions_attended, int)
            and self.sessions_attended > self.sessions_possible
        ):
            raise ValueError("sessions_attended exceeds sessions_possible")
        return self


def absence_band(rate: float) -> Literal["none", "persistent", "severe"]:
    if rate < SEVERE_BELOW:
        return "severe"
    if rate < PERSISTENT_BELOW:
        return "persistent"
    return "none"


class SchoolsAdapter:
    """Maps school CSV rows to attendance, exclusion, concern and missing-education events."""

    agency: ClassVar[Agency] = Agency.SCHOOLS
    content_types: ClassVar[tuple[str, ...]] = ("text/csv",)

    def frame(self, stream: IO[bytes], source: str) -> Iterator[RawRecord]:
        return read_csv(stream, source, HEADER)

    def map(self, record: RawRecord, now: datetime) -> MappedRecord:
        row = validate(SchoolRecord, record, self.agency)
        position = record.position
        problem = upn_problem(row.upn)
        if problem:
            raise RecordRefused(self.agency.value, position, problem, "upn")
        require_past(self.agency, position, "date_of_birth", row.date_of_birth, now)
        require_past(self.agency, position, "record_date", row.record_date, now)
        event_type, payload, categories, sensitivity = self._payload(row)
        event = build_event(
            source=dict(
                agency=self.agency,
                system=f"URN {row.school_urn}",
                record_ref=row.record_ref,
                record_version=row.version,
                organisation=row.school_urn,
            ),
            event_type=event_type,
            occurred_at=datetime.combine(row.record_date, time(12), tzinfo=UTC),
            recorded_at=now,
            subjects=(
                dict(
                    identifiers=dict(upn=row.upn),
                    demographics=dict(
                        given_name=row.given_name,
                        family_name=row.family_name,
                        date_of_birth=row.date_of_birth,
                        address=row.address,
                        postcode=row.postcode,
                    ),
                    role=Role.PUPIL,
                ),
            ),
            categories=categories,
            sensitivity=sensitivity,
            payload=payload,
        )
        return MappedRecord(row.record_ref, row.version, (event,))

    def _payload(
        self, row: SchoolRecord
    ) -> tuple[EventType, dict[str, Any], tuple[Category, ...], Sensitivity]:
        if row.record_type == "attendance_summary":
            assert isinstance(row.sessions_possible, int)
            assert isinstance(row.sessions_attended, int)
            rate = row.sessions_attended / row.sessions_possible
            band = absence_band(rate)
            return (
                EventType.SCHOOL_ATTENDANCE,
                dict(
                    kind="schools.attendance_summary",
                    school_urn=row.school_urn,
                    school_name=row.school_name,
                    period_end=row.record_date,
                    sessions_possible=row.sessions_possible,
                    sessions_attended=row.sessions_attended,
                    attendance_rate=round(rate, 4),
                    absence_band=band,
                ),
                (Category.SCHOOL_ATTENDANCE,) if band != "none" else (),
                Sensitivity.STANDARD,
            )
        if row.record_type == "exclusion":
            assert row.exclusion_type != "" and row.exclusion_reason != ""
            return (
                EventType.SCHOOL_EXCLUSION,
                dict(
                    kind="schools.exclusion",
                    school_urn=row.school_urn,
                    school_name=row.school_name,
                    exclusion_type=row.exclusion_type,
                    reason_code=row.exclusion_reason,
                    description=row.description,
                ),
                # Troubled Families counts exclusions with poor attendance.
                (Category.SCHOOL_ATTENDANCE, Category.SCHOOL_BEHAVIOUR),
                Sensitivity.STANDARD,
            )
        if row.record_type == "safeguarding_concern":
            assert row.concern_category != "" and row.concern_level != ""
            categories = [Category.SAFEGUARDING_CONCERN]
            if row.concern_category == "domestic_abuse":
                categories.append(Category.DOMESTIC_ABUSE)
            if row.concern_level == "significant_harm":
                categories.append(Category.CHILD_IN_NEED_OR_PROTECTION)
            return (
                EventType.SCHOOL_CONCERN,
                dict(
                    kind="schools.safeguarding_concern",
                    school_urn=row.school_urn,
                    school_name=row.school_name,
                    concern_category=row.concern_category,
                    concern_level=row.concern_level,
                    description=row.description,
                ),
                tuple(categories),
                Sensitivity.SENSITIVE,
            )
        return (
            EventType.SCHOOL_MISSING_EDUCATION,
            dict(
                kind="schools.missing_education",
                school_urn=row.school_urn,
                school_name=row.school_name,
                description=row.description,
            ),
            (Category.SCHOOL_ATTENDANCE, Category.MISSING),
            Sensitivity.SENSITIVE,
        )
