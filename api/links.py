"""The clerical review queue, merges and splits over HTTP, for the MASH.

Who a person is across agencies (names, dates of birth, NHS numbers, roles) is read by the
MASH screening team only, and each read is on the ledger before it is answered.

A decision is published to ``ehx.links`` as an event; the linker service applies it and
relinks every event already sent that it moves (recipients get retractions, then the
events again under the right person and family).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request, status
from pydantic import BaseModel, ConfigDict, Field, StrictBool

from ehx.api.answers import REFUSALS
from ehx.api.auditing import Reader, acting, record_read
from ehx.api.permissions import Holder, gate
from ehx.api.state import ApiState
from ehx.linker.people import (
    composition,
    family_history,
    merge_decision,
    people_in_reviews,
    split_decision,
)
from ehx.linker.service import review_message
from ehx.linker.store import LinkStore
from ehx.schemas.audit import Action
from ehx.schemas.links import ReviewDecision

router = APIRouter(
    prefix="/v1/links",
    tags=["identity links"],
    responses={**REFUSALS},
    dependencies=[Depends(gate)],
)


def _state(request: Request) -> ApiState:
    state: ApiState = request.app.state.ehx
    return state


Reviewer = Holder  # the gate lets only the MASH through


@router.get("/review", summary="Uncertain links, with the evidence field by field")
async def review_queue(
    request: Request, holder: Reviewer, include_decided: bool = False, reader: Reader = ""
) -> list[dict[str, Any]]:
    rows = LinkStore(_state(request).engine).reviews(open_only=not include_decided)
    await record_read(
        request,
        Action.LINKS_READ,
        holder,
        reader,
        "the link review queue",
        subject_ids=people_in_reviews(rows),
    )
    return rows


class Decide(BaseModel):
    model_config = ConfigDict(extra="forbid")

    same_person: StrictBool  # true or false: not 0, 1 or "yes"
    by: Annotated[str, Field(min_length=1, max_length=64)]
    reason: Annotated[str, Field(min_length=3, max_length=500)]


@router.post("/review/{review_id}", summary="Decide a pair: the same person, or not")
async def decide(
    request: Request, review_id: str, body: Decide, holder: Reviewer
) -> dict[str, Any]:
    acting(request, holder.value, body.by)
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


@router.get("/people/{person_id}", summary="The ids that make one person, their records, history")
async def person(
    request: Request, person_id: str, holder: Reviewer, reader: Reader = ""
) -> dict[str, Any]:
    found = composition(LinkStore(_state(request).engine), person_id)
    if found is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no person {person_id!r}")
    await record_read(
        request, Action.LINKS_READ, holder, reader, "a person's identity", subject_ids=(person_id,)
    )
    return found


@router.get("/families/{family_id}", summary="Who was in a family when, and where they lived")
async def family(
    request: Request, family_id: str, holder: Reviewer, reader: Reader = ""
) -> dict[str, Any]:
    found = family_history(LinkStore(_state(request).engine), family_id)
    if found is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no family {family_id!r}")
    await record_read(
        request, Action.LINKS_READ, holder, reader, "a family's members", family_id=family_id
    )
    return found


class Merge(BaseModel):
    model_config = ConfigDict(extra="forbid")

    person_id: Annotated[str, Field(min_length=1, max_length=32)]
    other_id: Annotated[str, Field(min_length=1, max_length=32)]
    by: Annotated[str, Field(min_length=1, max_length=64)]
    reason: Annotated[str, Field(min_length=3, max_length=500)]


@router.post("/merge", summary="Two people are one: relink what was sent about either")
async def merge(request: Request, body: Merge, holder: Reviewer) -> dict[str, Any]:
    acting(request, holder.value, body.by)
    return await _decide(
        request,
        lambda store: merge_decision(store, body.person_id, body.other_id, body.by, body.reason),
    )


class Split(BaseModel):
    model_config = ConfigDict(extra="forbid")

    person_id: Annotated[str, Field(min_length=1, max_length=32)]
    by: Annotated[str, Field(min_length=1, max_length=64)]
    reason: Annotated[str, Field(min_length=3, max_length=500)]


@router.post("/split", summary="Undo a wrong merge: retract, then decide again under the right one")
async def split(request: Request, body: Split, holder: Reviewer) -> dict[str, Any]:
    acting(request, holder.value, body.by)
    return await _decide(
        request, lambda store: split_decision(store, body.person_id, body.by, body.reason)
    )


async def _decide(request: Request, make: Callable[[LinkStore], ReviewDecision]) -> dict[str, Any]:
    """A merge or split: refused (409) if it would change nothing, else published."""
    state = _state(request)
    try:
        decision = make(LinkStore(state.engine))
    except ValueError as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from None
    await state.publisher.publish([review_message(decision)])
    return decision.model_dump(mode="json")
