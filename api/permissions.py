"""Who may call each API route: one table, enforced at one gate, mirrored in the docs.

The gate is the first check on every route: a caller whose kind of token is not listed
for the route is refused (403) with the kinds that are. What a caller may do *within* a
route (its own records, its own recipient view, the consents it recorded, which alerts
its team decides) is the route's own rule, in the pure rule modules
(``consent/recording.py``, ``alerts/deciders.py``) or the route itself.

``tests/api/test_authorisation_matrix.py`` calls every route with every kind of token and
holds the server to this table; ``tests/api/test_permissions_documented.py`` holds
``docs/security.md`` to it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from ehx.api.credentials import RECIPIENTS
from ehx.api.state import ApiState
from ehx.organisations.people import AUDITOR
from ehx.schemas.vocabulary import SERVING_KINDS, Addressee, Agency, Recipient

bearer = HTTPBearer(auto_error=False, description="Your system's token (ehx agencies token)")

AGENCIES = frozenset(a.value for a in Agency)
HUBS = frozenset({Recipient.MASH.value, Recipient.EARLY_HELP.value})
MASH = frozenset({Recipient.MASH.value})
AUDITORS = frozenset({AUDITOR})
#: Every kind of token there is.
HOLDERS = RECIPIENTS | AUDITORS


@dataclass(frozen=True)
class Gate:
    """Which kinds of token may call a route, and on whose data, in words."""

    holders: frozenset[str]
    data: str
    #: What the ledger records when the route is used (— where nothing is read).
    recorded: str = "—"
    #: A school's, trust's or landlord's answer is its own organisation's only.
    scoped: bool = False

    @property
    def who(self) -> str:
        """The kinds of token in words, in the order a reader expects them."""
        if self.holders == HOLDERS:
            return "every token: agencies, the MASH, the early help hub, auditors"
        if self.holders == RECIPIENTS:
            return "every agency, the MASH and the early help hub"
        if self.holders == AGENCIES:
            return "agency systems (police, health, schools, housing)"
        return ", ".join(_NAMES[h] for h in _ORDER if h in self.holders)


_ORDER = ("mash", "early_help", "police", "health", "schools", "housing", AUDITOR)
_NAMES = {
    "mash": "the MASH screening team",
    "early_help": "the early help hub",
    AUDITOR: "auditors",
    **{a: a for a in AGENCIES},
}


#: (method, route) -> who may call it. Every route of the API is here.
PERMISSIONS: dict[tuple[str, str], Gate] = {
    ("POST", "/v1/agencies/{agency}/records"): Gate(
        AGENCIES,
        "its own records, as its own organisation",
        "`record.accepted` / `record.refused`",
        scoped=True,
    ),
    ("GET", "/v1/families/{family_id}/timeline"): Gate(
        RECIPIENTS,
        "its own recipient view; a school, trust or landlord: the people it serves",
        "`timeline.read`",
        scoped=True,
    ),
    ("GET", "/v1/families/{family_id}/preview"): Gate(
        RECIPIENTS,
        "its own view (a school, trust or landlord: about the people it serves); the hubs "
        "any recipient's",
        "`preview.read`",
        scoped=True,
    ),
    ("GET", "/v1/subjects/{subject_id}/consents"): Gate(
        RECIPIENTS,
        "the hubs every consent; an organisation those it recorded",
        "`consents.read`",
        scoped=True,
    ),
    ("POST", "/v1/consents"): Gate(
        RECIPIENTS,
        "a family its organisation works with, in its own name",
        "`consent.granted` / `refused`",
        scoped=True,
    ),
    ("POST", "/v1/consents/{consent_id}/withdraw"): Gate(
        RECIPIENTS,
        "consents its organisation recorded; the MASH any",
        "`consent.withdrawn`",
        scoped=True,
    ),
    ("POST", "/v1/harm-assertions"): Gate(RECIPIENTS, "the family", "`harm.asserted`"),
    ("GET", "/v1/alerts"): Gate(HUBS, "the alert queue", "`alerts.read`"),
    ("POST", "/v1/alerts/{alert_id}/screen"): Gate(
        HUBS, "alerts its team screens", "`alert.decided`"
    ),
    ("POST", "/v1/alerts/{alert_id}/decision"): Gate(
        HUBS,
        "significant harm: the MASH only (closing with no further action: a MASH "
        "manager's account as `by`); think family: either hub",
        "`alert.decided`",
    ),
    ("GET", "/v1/outcomes"): Gate(
        AGENCIES,
        "what was decided about the cases its own records were behind",
        "`outcomes.read`",
        scoped=True,
    ),
    ("GET", "/v1/encompass"): Gate(
        HUBS | {Recipient.SCHOOLS.value},
        "notifications (a school: its own)",
        "`encompass.read`",
        scoped=True,
    ),
    ("POST", "/v1/encompass/{notification_id}/acknowledge"): Gate(
        frozenset({Recipient.SCHOOLS.value}), "a notification to its own pupils", scoped=True
    ),
    ("GET", "/v1/links/review"): Gate(MASH, "the identity review queue", "`links.read`"),
    ("POST", "/v1/links/review/{review_id}"): Gate(MASH, "identity links", "`link.reviewed`"),
    ("GET", "/v1/links/people/{person_id}"): Gate(
        MASH, "who a person is across agencies", "`links.read`"
    ),
    ("GET", "/v1/links/families/{family_id}"): Gate(
        MASH, "a family's members over time", "`links.read`"
    ),
    ("POST", "/v1/links/merge"): Gate(MASH, "identity links", "`link.reviewed`"),
    ("POST", "/v1/links/split"): Gate(MASH, "identity links", "`link.reviewed`"),
    ("GET", "/v1/audit/who-saw/{subject_id}"): Gate(AUDITORS, "the ledger", "`audit.read`"),
    ("GET", "/v1/audit/overrides"): Gate(AUDITORS, "the ledger", "`audit.read`"),
    ("GET", "/v1/audit/received"): Gate(AUDITORS, "the ledger", "`audit.read`"),
    ("GET", "/v1/audit/export"): Gate(AUDITORS, "the ledger", "`audit.exported`"),
    ("GET", "/v1/audit/access"): Gate(
        HOLDERS, "auditors all; an agency views of its records and views it made", "`audit.read`"
    ),
}


def table() -> str:
    """The permission table as ``docs/security.md`` shows it (a test holds them equal)."""
    rows = ["| route | who may | on whose data | recorded as |", "|---|---|---|---|"]
    for (method, route), allowed in PERMISSIONS.items():
        data = allowed.data + (" (scoped to its organisation)" if allowed.scoped else "")
        rows.append(f"| `{method} {route}` | {allowed.who} | {data} | {allowed.recorded} |")
    return "\n".join(rows)


def _state(request: Request) -> ApiState:
    state: ApiState = request.app.state.ehx
    return state


async def caller(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> str:
    """The kind of token presented (a recipient's name or ``auditor``); 401 without a
    live one."""
    if credentials is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "send your token as a Bearer credential",
            headers={"WWW-Authenticate": "Bearer"},
        )
    found = _state(request).credentials.lookup(credentials.credentials)
    if found is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "unknown, expired or revoked token",
            headers={"WWW-Authenticate": "Bearer"},
        )
    role, request.state.organisation = found
    return role


async def gate(request: Request, role: Annotated[str, Depends(caller)]) -> str:
    """Refuse a caller this route is not for, saying who it is for."""
    route = getattr(request.scope.get("route"), "path", "")
    allowed = PERMISSIONS.get((request.method, route))
    if allowed is None or role not in allowed.holders:
        who = allowed.who if allowed else "nobody"
        raise HTTPException(status.HTTP_403_FORBIDDEN, f"this is for {who}")
    return role


async def recipient(role: Annotated[str, Depends(gate)]) -> Recipient:
    """The caller as a recipient, for routes only recipients pass the gate of."""
    return Recipient(role)


async def organisation(request: Request, role: Annotated[str, Depends(gate)]) -> str | None:
    """The organisation the caller's token acts as (its code), or None for a token issued
    before organisations, which acts for its whole kind where that is allowed."""
    code: str | None = getattr(request.state, "organisation", None)
    return code


def own_organisation(holder: Recipient, code: str | None) -> str:
    """The organisation a school's, trust's or landlord's token acts for. One issued
    before organisations acts for none, and is told how to get one that does."""
    if code is None:
        kind = "URN" if holder is Recipient.SCHOOLS else "CODE"
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            f"this token names no organisation: {holder.label} read and act only as one "
            f"organisation, with a token issued for it (ehx agencies token {holder.value} "
            f"--org {kind})",
        )
    return code


def reading_as(holder: Recipient, code: str | None) -> str:
    """Whose views a token reads: its hub's or the police's, or its own school's, trust's
    or landlord's (``school:103291``); one of those issued before organisations, none."""
    if holder in SERVING_KINDS:
        return str(Addressee(holder, own_organisation(holder, code)))
    return holder.value


Caller = Annotated[str, Depends(gate)]
OrganisationCode = Annotated[str | None, Depends(organisation)]
Holder = Annotated[Recipient, Depends(recipient)]
