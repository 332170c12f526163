"""Putting what the API and the console do on ``ehx.audit``, before they answer.

``record``: an act (a read, a decision), published and acknowledged before the response.
``record_refusal``: every 401 and 403, from one exception handler for the API and the
console alike; the actor is the person signed in to the console, or the holder of the
bearer token (never the token), or ``anonymous``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import Query, Request

from ehx.api.refusals import Caller
from ehx.api.state import ApiState
from ehx.broker.auditing import audit_message
from ehx.schemas.audit import Action, AuditRecord
from ehx.schemas.vocabulary import Recipient


def _state(request: Request) -> ApiState:
    state: ApiState = request.app.state.ehx
    return state


async def record(request: Request, entry: AuditRecord) -> None:
    await _state(request).publisher.publish([audit_message(entry)])


#: Who is reading, for the ledger: a practitioner's id (the holder's system when empty).
Reader = Annotated[str, Query(max_length=64, description="The practitioner reading (audited).")]


def role_of(holder: Recipient) -> str:
    """The role a token's holder reads in, as the ledger names it."""
    return "mash_screener" if holder is Recipient.MASH else f"{holder.value}_practitioner"


async def record_read(
    request: Request,
    action: Action,
    holder: Recipient,
    reader: str,
    purpose: str,
    *,
    family_id: str | None = None,
    subject_ids: tuple[str, ...] = (),
) -> None:
    """Put a read on the ledger before it is answered: who (the practitioner, or the
    holder's system when none is named), in what role, about whom."""
    await record(
        request,
        AuditRecord(
            action=action,
            actor=reader or f"{holder.value} system",
            role=role_of(holder),
            agency=holder.value,
            purpose=purpose[:200],
            family_id=family_id,
            subject_ids=subject_ids,
            at=datetime.now(UTC),
        ),
    )


async def record_refusal(request: Request, code: int, why: str) -> None:
    """On the ledger: a caller's first refusal in a minute; the rest, counted (see
    ``refusals``)."""
    state = _state(request)
    # Who the console signed in for this request (set once their session checked out).
    person = getattr(request.state, "console_user", None)
    header = request.headers.get("authorization", "")
    token = header[7:] if header.lower().startswith("bearer ") else ""
    holder = state.credentials.role_for(token) if token else None
    if person:
        actor, role, agency = str(person), "console", "console"
    elif holder:
        actor, role, agency = f"token:{holder}", "api client", holder
    else:
        actor, role, agency = "unknown token" if token else "anonymous", "api client", "unknown"
    now = datetime.now(UTC)
    entries = [tallied(*counted) for counted in state.refusals.due(now)]
    # Someone identified is held to each page they tried; junk from nobody is one count.
    where = request.url.path if person or holder else ""
    if state.refusals.note((actor, role, agency, code, where), now):
        entries.append(
            AuditRecord(
                action=Action.ACCESS_REFUSED,
                actor=actor,
                role=role,
                agency=agency,
                purpose=f"{code} {request.method} {request.url.path}: {why}"[:200],
                at=now,
            )
        )
    if entries:
        await state.publisher.publish([audit_message(e) for e in entries])


def tallied(caller: Caller, minute: datetime, more: int) -> AuditRecord:
    """One entry for a caller's further refusals in one minute."""
    actor, role, agency, code, where = caller
    return AuditRecord(
        action=Action.ACCESS_REFUSED,
        actor=actor,
        role=role,
        agency=agency,
        purpose=f"{more} more {code} refusals{' of ' + where if where else ''} "
        f"in the minute from {minute:%H:%M} UTC"[:200],
        at=minute,
    )
