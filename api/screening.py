"""Timelines, alerts and Operation Encompass over HTTP, each read recorded before it is shown.

A token's holder reads its own view only: a school's system sees the schools view, the
MASH's the MASH view. Alerts are the screening team's: MASH and early help hub tokens.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response, status
from pydantic import BaseModel, ConfigDict, Field

from ehx.alerts.auditing import decided, queue_read
from ehx.alerts.deciders import closing_refusal, refusal
from ehx.alerts.store import (
    MIN_RATIONALE,
    AlertNotFound,
    AlertStore,
    DecisionIncomplete,
    ScreeningDecision,
)
from ehx.api.answers import REFUSALS
from ehx.api.auditing import Reader, acting, record, record_read
from ehx.api.params import Since, Until
from ehx.api.permissions import Holder, OrganisationCode, gate, reading_as
from ehx.api.state import ApiState
from ehx.consent.keys import DataKeyStore
from ehx.rights.markers import Markers
from ehx.schemas import ExchangeError
from ehx.schemas.audit import Action
from ehx.schemas.vocabulary import Recipient
from ehx.timeline.reading import audit_record, open_entry
from ehx.timeline.store import TimelineQuery, TimelineStore, UnknownEntry

router = APIRouter(
    prefix="/v1",
    tags=["timeline and alerts"],
    responses={**REFUSALS},
    dependencies=[Depends(gate)],
)
SCREENERS = frozenset({Recipient.MASH, Recipient.EARLY_HELP})


def _state(request: Request) -> ApiState:
    state: ApiState = request.app.state.ehx
    return state


def _may_decide(
    store: AlertStore, alert_id: str, holder: Recipient, role: str, outcome: str | None = None
) -> None:
    """403, saying who may, when the holder's team does not screen this kind of alert, or
    the person (in ``role``) may not decide this outcome."""
    try:
        kind = store.get(alert_id)["kind"]
    except AlertNotFound:
        return  # moving it answers 404
    why = refusal(kind, holder) or (closing_refusal(kind, outcome, role) if outcome else None)
    if why is not None:
        raise HTTPException(status.HTTP_403_FORBIDDEN, why)


def _moved(store: AlertStore, alert_id: str, move: Callable[[], None]) -> dict[str, Any]:
    """Move an alert on; 404 if there is no such alert, 409 if it cannot move now."""
    try:
        move()
    except AlertNotFound as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from exc
    except DecisionIncomplete as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from exc
    except ExchangeError as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from exc
    return store.get(alert_id)


@router.get("/families/{family_id}/timeline", summary="A family's timeline, as you may see it")
async def family_timeline(
    request: Request,
    response: Response,
    family_id: str,
    holder: Holder,
    school: OrganisationCode,
    reader: Annotated[
        str, Query(min_length=1, max_length=64, description="The practitioner reading (audited).")
    ],
    purpose: Annotated[str, Query(min_length=1, max_length=200, description="Why (audited).")] = (
        "case work"
    ),
    person: str | None = None,
    category: Annotated[list[str] | None, Query()] = None,
    agency: Annotated[list[str] | None, Query()] = None,
    since: Since = None,
    until: Until = None,
    limit: Annotated[
        int | None, Query(ge=1, le=10_000, description="Only the latest this many entries.")
    ] = None,
    before: Annotated[
        str | None,
        Query(description="Only entries before this event id (a page's oldest entry)."),
    ] = None,
) -> list[dict[str, Any]]:
    """Each entry: what happened, which agency, and why this viewer may see it.

    Oldest first. With ``limit``, the latest entries only, and where the timeline goes
    back further a ``Link: <...>; rel="prev"`` header gives the page before them.
    """
    state = _state(request)
    # A school, trust or landlord reads its own organisation's views only.
    whose = reading_as(holder, school)
    actor, role, _ = acting(request, holder.value, reader)
    query = TimelineQuery(
        whose,
        family_id=family_id,
        person_id=person,
        categories=frozenset(category or ()),
        agencies=frozenset(agency or ()),
        since=since,
        until=until,
        limit=limit,
        before=before,
    )
    try:
        page = TimelineStore(state.engine).page(query)
    except UnknownEntry as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from exc
    views = page.entries
    if page.before:
        earlier = request.url.include_query_params(before=page.before)
        response.headers["Link"] = f'<{earlier}>; rel="prev"'
    await record(
        request,
        audit_record(views, actor, role, whose, purpose, datetime.now(UTC), family_id),
    )
    keys = DataKeyStore(state.engine)
    entries = Markers(state.engine).shown_with_disputes([open_entry(v, keys) for v in views])
    return [e.as_dict() for e in entries]


@router.get("/alerts", summary="The alert queue, most urgent first")
async def alert_queue(
    request: Request,
    holder: Holder,
    reader: Reader = "",
    include_decided: bool = False,
) -> list[dict[str, Any]]:
    actor, role, _ = acting(request, holder.value, reader)
    rows = AlertStore(_state(request).engine).queue(include_decided)
    await record(request, queue_read(rows, actor, role, holder.value, datetime.now(UTC)))
    return rows


class Screening(BaseModel):
    model_config = ConfigDict(extra="forbid")

    by: Annotated[str, Field(min_length=1, max_length=64)]


class Decision(BaseModel):
    model_config = ConfigDict(extra="forbid")

    by: Annotated[str, Field(min_length=1, max_length=64)]
    outcome: ScreeningDecision
    #: Why, in the screener's words: what the family, a manager and an auditor read later.
    rationale: Annotated[str, Field(min_length=MIN_RATIONALE, max_length=4000)]
    #: Early help with a team around the family: who leads it, and for whom they work.
    lead_professional: Annotated[str, Field(max_length=200)] = ""


@router.post("/alerts/{alert_id}/screen", summary="Take an alert into screening")
async def screen_alert(
    request: Request, alert_id: str, body: Screening, holder: Holder
) -> dict[str, Any]:
    by, role, _ = acting(request, holder.value, body.by)
    store = AlertStore(_state(request).engine)
    _may_decide(store, alert_id, holder, role)
    return _moved(store, alert_id, lambda: store.screen(alert_id, by, datetime.now(UTC)))


@router.post("/alerts/{alert_id}/decision", summary="Record the screening decision")
async def decide_alert(
    request: Request, alert_id: str, body: Decision, holder: Holder
) -> dict[str, Any]:
    by, role, _ = acting(request, holder.value, body.by)
    store = AlertStore(_state(request).engine)
    _may_decide(store, alert_id, holder, role, body.outcome)
    now = datetime.now(UTC)
    why, lead = body.rationale, body.lead_professional
    alert = _moved(
        store, alert_id, lambda: store.decide(alert_id, body.outcome, by, now, why, lead)
    )
    await record(request, decided(alert, by, role, holder.value, now))
    return alert


@router.get("/outcomes", summary="What was decided about the cases your records were behind")
async def outcomes(
    request: Request, holder: Holder, organisation: OrganisationCode, reader: Reader = ""
) -> list[dict[str, Any]]:
    """The referrer hears what happened to its referral: for each case the holder's own
    records were behind, the outcome, the lead professional and which of its records,
    latest first. The read is on the ledger first, by family."""
    rows = AlertStore(_state(request).engine).outcomes(reading_as(holder, organisation))
    await record_read(
        request,
        Action.OUTCOMES_READ,
        holder,
        reader,
        "screening outcomes",
        subject_ids=tuple(sorted({str(r["family_id"]) for r in rows})),
    )
    return rows


@router.get("/encompass", summary="Operation Encompass notifications and their deadlines")
async def encompass(
    request: Request, holder: Holder, school: OrganisationCode, reader: Reader = ""
) -> list[dict[str, Any]]:
    """The MASH and the early help hub see every notification; a school, its own. The
    read is on the ledger first: which children, of which families, at which schools."""
    own = None if holder in SCREENERS else reading_as(holder, school)
    rows = AlertStore(_state(request).engine).notifications(datetime.now(UTC), own)
    await record_read(
        request,
        Action.ENCOMPASS_READ,
        holder,
        reader,
        "Operation Encompass notifications",
        subject_ids=tuple(sorted({str(r["person_id"]) for r in rows})),
    )
    return rows


@router.post("/encompass/{notification_id}/acknowledge", summary="The key adult acknowledges")
async def acknowledge(
    request: Request, notification_id: str, body: Screening, school: OrganisationCode
) -> dict[str, str]:
    own = reading_as(Recipient.SCHOOLS, school)
    by, _, _ = acting(request, Recipient.SCHOOLS.value, body.by)
    try:
        AlertStore(_state(request).engine).acknowledge(notification_id, by, datetime.now(UTC), own)
    except AlertNotFound as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from exc
    return {"notification_id": notification_id, "acknowledged_by": by}
