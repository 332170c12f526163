"""The clerical review queue over HTTP, for the MASH and the early help hub.

A decision is published to ``ehx.links`` as an event; the linker service applies it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request, status
from pydantic import BaseModel, ConfigDict, Field

from api.ingest import token_holder
from api.state import ApiState
from broker.topics import Recipient
from linker import LinkStore
from linker.service import review_message
from schemas.links import ReviewDecision

router = APIRouter(prefix="/v1/links", tags=["identity links"])
REVIEWERS = frozenset({Recipient.MASH, Recipient.EARLY_HELP})


def _state(request: Request) -> ApiState:
    state: ApiState = request.app.state.ehx
    return state


def reviewer(holder: Annotated[Recipient, Depends(token_holder)]) -> Recipient:
    if holder not in REVIEWERS:
        raise HTTPException(
            status.HTTP_403_FORBIDDEN, "link review is for the MASH and the early help hub"
        )
    return holder


Reviewer = Annotated[Recipient, Depends(reviewer)]


@router.get("/review", summary="Uncertain links, with the evidence field by field")
async def review_queue(
    request: Request, holder: Reviewer, include_decided: bool = False
) -> list[dict[str, Any]]:
    return LinkStore(_state(request).engine).reviews(open_only=not include_decided)


class Decide(BaseModel):
    model_config = ConfigDict(extra="forbid")

    same_person: bool
    by: Annotated[str, Field(min_length=1, max_length=64)]
    reason: Annotated[str, Field(min_length=3, max_length=500)]


@router.post("/review/{review_id}", summary="Decide a pair: the same person, or not")
async def decide(
    request: Request, review_id: str, body: Decide, holder: Reviewer
) -> dict[str, Any]:
    state = _state(request)
    row = LinkStore(state.engine).review(review_id)
    if row is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no pair {review_id!r} in the queue")
    decision = ReviewDecision(
        review_id=review_id,
        person_id=row["person_id"],
        candidate_id=row["candidate_id"],
        same_person=body.same_person,
        decided_by=body.by,
        reason=body.reason,
        decided_at=datetime.now(UTC),
    )
    await state.publisher.publish([review_message(decision)])
    return decision.model_dump(mode="json")
