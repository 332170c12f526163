"""What goes on ``ehx.links``: a reviewer's decision on an uncertain identity link."""

from __future__ import annotations

from typing import Annotated

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field


class ReviewDecision(BaseModel):
    """Are these two one person? Decided by a person, with a reason, kept as an event."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    review_id: Annotated[str, Field(min_length=1, max_length=80)]
    person_id: Annotated[str, Field(min_length=1, max_length=32)]
    candidate_id: Annotated[str, Field(min_length=1, max_length=32)]
    same_person: bool
    decided_by: Annotated[str, Field(min_length=1, max_length=64)]
    reason: Annotated[str, Field(min_length=3, max_length=500)]
    decided_at: AwareDatetime
