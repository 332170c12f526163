"""Who-is-who messages: a reviewer's decision (``ehx.links``) and the relinks it causes
(``ehx.linked``)."""

from __future__ import annotations

from typing import Annotated, Literal
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field


class ReviewDecision(BaseModel):
    """Are these two one person? Decided by a person, with a reason, kept as an event.

    ``same_person`` merges them. Not the same person keeps them apart, and if they are
    one person now (a wrong merge), splits ``person_id`` off again.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    review_id: Annotated[str, Field(min_length=1, max_length=80)]
    person_id: Annotated[str, Field(min_length=1, max_length=32)]
    candidate_id: Annotated[str, Field(min_length=1, max_length=32)]
    same_person: bool
    decided_by: Annotated[str, Field(min_length=1, max_length=64)]
    reason: Annotated[str, Field(min_length=3, max_length=500)]
    decided_at: AwareDatetime


class SubjectLink(BaseModel):
    """Who one subject of an event is now: person, family and how sure."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    index: Annotated[int, Field(ge=0)]
    person_id: Annotated[str, Field(min_length=1, max_length=32)]
    family_id: Annotated[str, Field(min_length=1, max_length=32)]
    match_confidence: float | None = None


#: How a relink's cause begins when no reviewer decided it: a record showed two people
#: on file to be one, and the linker joined them (the event's id follows).
JOINED = "linked through event"


class Relink(BaseModel):
    """An event linked before, linked again after a merge or a split (on ``ehx.linked``).

    Carries every subject's link, not only the ones that changed, so applying it twice
    changes nothing. Published under the key the event first went out with, so it is
    read after the event itself and after any earlier relink of it.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["relink"] = "relink"
    event_id: UUID
    subjects: Annotated[tuple[SubjectLink, ...], Field(min_length=1)]
    #: The reviewer's decision that caused it, or ``JOINED`` and the event whose record
    #: joined two people.
    cause: Annotated[str, Field(min_length=1, max_length=80)]
    decided_at: AwareDatetime
