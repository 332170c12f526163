"""Housing: JSON Lines, one tenancy event per line, about the whole household."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, time
from typing import IO, Annotated, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from ehx.adapters.base import MappedRecord, build_event, require_past, validate
from ehx.adapters.checks import OrganisationCode
from ehx.adapters.framing import RawRecord, read_lines
from ehx.schemas import (
    Agency,
    Category,
    EventType,
    Role,
    Sensitivity,
)
from ehx.schemas.payloads import HousingEventType

Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=20_000)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _Member(_Strict):
    given_name: Text
    family_name: Text
    date_of_birth: date | None
    relationship: Literal["lead_tenant", "partner", "child", "other_adult"]


class HousingRecord(_Strict):
    """The housing event format of ``formats/README.md``."""

    record_ref: Text
    version: Annotated[int, Field(ge=1, strict=True)]
    landlord: Text
    #: The sender's code in the council's directory of organisations (optional).
    landlord_code: OrganisationCode | None = None
    tenancy_ref: Text | None
    event_type: HousingEventType
    event_date: date
    address: Text
    postcode: Text
    household: Annotated[list[_Member], Field(min_length=1)]
    arrears_gbp: Annotated[float, Field(ge=0)] | None
    bedrooms: Annotated[int, Field(ge=0, le=50)] | None
    description: Annotated[str, StringConstraints(max_length=100_000)]


CATEGORIES: dict[str, tuple[Category, ...]] = {
    "rent_arrears": (Category.FINANCIAL_EXCLUSION, Category.HOUSING),
    "notice_seeking_possession": (Category.FINANCIAL_EXCLUSION, Category.HOUSING),
    "eviction": (Category.FINANCIAL_EXCLUSION, Category.HOUSING),
    "homelessness_application": (Category.HOUSING,),
    "temporary_accommodation": (Category.HOUSING,),
    "overcrowding": (Category.HOUSING,),
    "antisocial_behaviour_complaint": (Category.CRIME_ASB, Category.HOUSING),
    "disrepair": (Category.HOUSING,),
}


class HousingAdapter:
    """Maps housing events to ``housing.event`` events about each household member."""

    agency: ClassVar[Agency] = Agency.HOUSING
    content_types: ClassVar[tuple[str, ...]] = ("application/x-ndjson", "application/json")

    def frame(self, stream: IO[bytes], source: str) -> Iterator[RawRecord]:
        return read_lines(stream, source)

    def map(self, record: RawRecord, now: datetime) -> MappedRecord:
        housing = validate(HousingRecord, record, self.agency)
        position = record.position
        require_past(self.agency, position, "event_date", housing.event_date, now)
        for index, member in enumerate(housing.household):
            require_past(
                self.agency, position, f"household.{index}.date_of_birth", member.date_of_birth, now
            )
        subjects = tuple(
            dict(
                identifiers=dict(tenancy_ref=housing.tenancy_ref),
                demographics=dict(
                    given_name=member.given_name,
                    family_name=member.family_name,
                    date_of_birth=member.date_of_birth,
                    address=housing.address,
                    postcode=housing.postcode,
                ),
                role=Role(member.relationship),
            )
            for member in housing.household
        )
        event = build_event(
            source=dict(
                agency=self.agency,
                system=housing.landlord,
                organisation=housing.landlord_code,
                record_ref=housing.record_ref,
                record_version=housing.version,
            ),
            event_type=EventType.HOUSING_EVENT,
            # A date-only event is placed at midday UTC so it sorts within its own day.
            occurred_at=datetime.combine(housing.event_date, time(12), tzinfo=UTC),
            recorded_at=now,
            subjects=subjects,
            categories=CATEGORIES[housing.event_type],
            sensitivity=Sensitivity.SENSITIVE,
            payload=dict(
                kind="housing.event",
                landlord=housing.landlord,
                tenancy_ref=housing.tenancy_ref,
                housing_event_type=housing.event_type,
                address=housing.address,
                postcode=housing.postcode,
                arrears_gbp=housing.arrears_gbp,
                bedrooms=housing.bedrooms,
                description=housing.description,
            ),
        )
        return MappedRecord(housing.record_ref, housing.version, (event,))
