"""The audit ledger over HTTP, for auditors only (a token issued by ``ehx audit token``).

Each query is itself recorded (``audit.read``, an export ``audit.exported``) before it
is answered. Agencies' tokens read their own access notifications (CP-IS) here too.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import PlainTextResponse

from ehx.api.answers import REFUSALS
from ehx.api.auditing import acting, record
from ehx.api.credentials import RECIPIENTS
from ehx.api.params import Since, Until
from ehx.api.permissions import Caller, OrganisationCode, gate, reading_as
from ehx.api.state import ApiState
from ehx.audit import queries
from ehx.audit.access import AccessLog
from ehx.audit.ledger import AuditLedger
from ehx.organisations.people import AUDITOR
from ehx.schemas.audit import Action
from ehx.schemas.vocabulary import SERVING_KINDS, Recipient

router = APIRouter(
    prefix="/v1/audit", tags=["audit"], responses={**REFUSALS}, dependencies=[Depends(gate)]
)
Auditor = Annotated[
    str, Query(description="The auditor asking: a live auditor's or DPO's account (audited).")
]


def _state(request: Request) -> ApiState:
    state: ApiState = request.app.state.ehx
    return state


Role = Caller
AuditorRole = Caller  # the gate lets only auditors through


@router.get("/who-saw/{subject_id}", summary="Who viewed or received information about a person")
async def who_saw(
    request: Request,
    subject_id: str,
    role: AuditorRole,
    by: Auditor,
    since: Since = None,
    until: Until = None,
) -> list[dict[str, Any]]:
    acting(request, AUDITOR, by)
    await record(request, queries.auditors_query(by, "who-saw", subject_id))
    return queries.who_saw(AuditLedger(_state(request).engine), subject_id, since, until)


@router.get("/overrides", summary="Significant-harm overrides, with their reviews")
async def overrides(
    request: Request, role: AuditorRole, by: Auditor, since: Since = None, until: Until = None
) -> list[dict[str, Any]]:
    acting(request, AUDITOR, by)
    await record(request, queries.auditors_query(by, "overrides"))
    return queries.overrides(AuditLedger(_state(request).engine), since, until)


@router.get("/received", summary="What one recipient was sent, and on what basis")
async def received(
    request: Request,
    agency: str,
    role: AuditorRole,
    by: Auditor,
    since: Since = None,
    until: Until = None,
) -> list[dict[str, Any]]:
    acting(request, AUDITOR, by)
    await record(request, queries.auditors_query(by, f"received by {agency}"))
    return queries.received(AuditLedger(_state(request).engine), agency, since, until)


@router.get(
    "/export",
    summary="The ledger as FHIR AuditEvent resources (a Bundle) or CSV",
    responses={
        200: {
            "description": "A FHIR Bundle of AuditEvents (format=fhir) or CSV (format=csv).",
            "content": {"application/json": {}, "text/csv": {"schema": {"type": "string"}}},
        }
    },
)
async def export(
    request: Request,
    role: AuditorRole,
    by: Auditor,
    format: Literal["fhir", "csv"] = "fhir",
    subject: str | None = None,
    since: Since = None,
    until: Until = None,
) -> Any:
    acting(request, AUDITOR, by)
    await record(
        request, queries.auditors_query(by, f"export as {format}", subject, Action.AUDIT_EXPORTED)
    )
    found = queries.entries(AuditLedger(_state(request).engine), since, until, subject)
    if format == "csv":
        return PlainTextResponse(queries.as_csv(found), media_type="text/csv")
    return queries.as_fhir_bundle(found)


@router.get("/access", summary="CP-IS access notifications: your records viewed, or your views")
async def access(
    request: Request, role: Role, organisation: OrganisationCode, person: str | None = None
) -> list[dict[str, Any]]:
    """An auditor sees all; an agency sees views of its records and views it made; a
    school, trust or landlord the views its own organisation made."""
    agency = None if role == AUDITOR else role
    if agency in RECIPIENTS and Recipient(agency) in SERVING_KINDS:
        agency = reading_as(Recipient(agency), organisation)
    return [
        n.as_dict()
        for n in AccessLog(_state(request).engine).history(agency=agency, person_id=person)
    ]
