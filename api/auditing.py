"""Putting what the API and the console do on ``ehx.audit``, before they answer.

``record``: an act (a read, a decision), published and acknowledged before the response.
``record_refusal``: every 401 and 403, from one exception handler for the API and the
console alike; the actor is the person signed in to the console, or the holder of the
bearer token (never the token), or ``anonymous``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, NamedTuple

from fastapi import HTTPException, Query, Request, status

from ehx.api.credentials import RECIPIENTS
from ehx.api.refusals import Caller
from ehx.api.state import ApiState
from ehx.broker.auditing import audit_message
from ehx.organisations.people import AccountError, Accounts
from ehx.schemas.audit import Action, AuditRecord
from ehx.schemas.vocabulary import SERVING_KINDS, Addressee, Recipient


def _state(request: Request) -> ApiState:
    state: ApiState = request.app.state.ehx
    return state


async def record(request: Request, entry: AuditRecord) -> None:
    await _state(request).publisher.publish([audit_message(entry)])


#: Who is reading, for the ledger: a person with an account of the token's organisation
#: (the holder's system when empty).
Reader = Annotated[
    str,
    Query(
        max_length=64,
        description="The person reading: a live account of your organisation (audited).",
    ),
]


def role_of(holder: Recipient) -> str:
    """The role a token's holder reads in, as the ledger names it."""
    return "mash_screener" if holder is Recipient.MASH else f"{holder.value}_practitioner"


class Acting(NamedTuple):
    """Who reads or acts, as the ledger records them."""

    person: str
    role: str
    #: Whom for: the organisation (``school:103291``), the hub, or the token's kind.
    agency: str


def acting(request: Request, holder: str, name: str) -> Acting:
    """Who reads or acts. A name must be a live account of the organisation the token
    acts for (403 saying whose would do, before anything is read); with none, the
    holder's system."""
    if not name and holder in RECIPIENTS:
        return Acting(f"{holder} system", role_of(Recipient(holder)), holder)
    code: str | None = getattr(request.state, "organisation", None)
    acts_for = holder
    if holder in RECIPIENTS and Recipient(holder) in SERVING_KINDS and code:
        acts_for = str(Addressee(Recipient(holder), code))
    try:
        account = Accounts(_state(request).engine).acting(name, acts_for)
    except AccountError as exc:
        raise HTTPException(status.HTTP_403_FORBIDDEN, str(exc)) from None
    return Acting(account.username, account.role_name, acts_for)


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
    """Put a read on the ledger before it is answered: who (the person, checked by
    ``acting``, or the holder's system when none is named), in what role, about whom."""
    who = acting(request, holder.value, reader)
    await record(
        request,
        AuditRecord(
            action=action,
            actor=who.person,
            role=who.role,
            agency=who.agency,
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
