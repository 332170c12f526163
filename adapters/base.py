"""What every agency adapter is: frame a file, map each record to canonical events."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from typing import IO, Any, ClassVar, Protocol, TypeVar

from pydantic import BaseModel, ValidationError

from ehx.adapters.checks import date_problem, instant_problem
from ehx.adapters.framing import RawRecord
from ehx.schemas import Agency, CanonicalEvent, RecordRefused

ModelT = TypeVar("ModelT", bound=BaseModel)


@dataclass(frozen=True)
class MappedRecord:
    """One accepted agency record: its reference, version and the events it became."""

    record_ref: str
    version: int
    events: tuple[CanonicalEvent, ...]
    #: What was left out of an accepted record, and why (told to the sender).
    warnings: tuple[str, ...] = ()


class AgencyAdapter(Protocol):
    """An agency's format: how its files are framed and how a record maps to events."""

    agency: ClassVar[Agency]
    #: The content types the HTTP endpoint accepts for this agency.
    content_types: ClassVar[tuple[str, ...]]

    def frame(self, stream: IO[bytes], source: str) -> Iterator[RawRecord]: ...

    def map(self, record: RawRecord, now: datetime) -> MappedRecord: ...


def validate(model: type[ModelT], record: RawRecord, agency: Agency) -> ModelT:
    """Validate a framed record against the agency's inbound model, or refuse it.

    Only the location and the message of the first error are kept: pydantic's input
    echo would copy personal data into the refusal.
    """
    try:
        return model.model_validate(record.parsed)
    except ValidationError as exc:
        first = exc.errors(include_input=False, include_url=False, include_context=False)[0]
        field = ".".join(str(part) for part in first["loc"]) or None
        raise RecordRefused(agency.value, record.position, first["msg"], field) from None


def require_past(
    agency: Agency, position: str, field: str, value: datetime | date | None, now: datetime
) -> None:
    """Refuse a record whose instant or date lies in the future or before 1900."""
    if value is None:
        return
    problem = (
        instant_problem(value, now) if isinstance(value, datetime) else date_problem(value, now)
    )
    if problem:
        raise RecordRefused(agency.value, position, problem, field)


def build_event(**fields: Any) -> CanonicalEvent:
    """A canonical event from plain values, validated once as a whole.

    Building the nested models one by one validates each part twice; one validation
    of the whole is about twice as fast on the ingest hot path.
    """
    return CanonicalEvent.model_validate(fields)
