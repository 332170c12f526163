"""The console: server-rendered pages (Jinja2), readable without JavaScript.

Sign-in starts a session kept on the server (``console/sessions.py``: expiring after
``EHX_CONSOLE_SESSION_HOURS``, ended by signing out, for every copy of the cookie) whose
token travels in a signed cookie (Starlette's ``SessionMiddleware``: HttpOnly,
SameSite=Strict); each request re-reads the account, so a disabled account is out at
once. Every form carries the session's CSRF token and a POST without it is refused.
Refusals (401, 403) are recorded on ``ehx.audit`` like every read, before the page is
answered (by the app's one handler, ``api/auditing.py``).
"""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Form, HTTPException, Query, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy import select
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.sessions import SessionMiddleware

from ehx.alerts.auditing import decided, queue_read
from ehx.alerts.deciders import closing_refusal, refusal
from ehx.alerts.needs import picture, suggest_level
from ehx.alerts.store import (
    MIN_RATIONALE,
    AlertNotFound,
    AlertStore,
    DecisionIncomplete,
    ScreeningDecision,
)
from ehx.api.auditing import record, record_read, record_refusal
from ehx.api.hardening import strict_transport
from ehx.api.people_search import SearchRefused, find_people, search_read
from ehx.audit import queries
from ehx.audit.ledger import AuditLedger
from ehx.audit.verify import verify
from ehx.consent import ConsentRecord, HarmAssertion, load_policy
from ehx.consent.keys import DataKeyStore
from ehx.consent.recording import SERVING, age
from ehx.consent.service import consent_message
from ehx.consent.store import ConsentStore
from ehx.console.accounts import page_refusal
from ehx.console.sessions import Clock, Sessions, utc_now
from ehx.console.sso import (
    STATE_COOKIE,
    STATE_SECONDS,
    Provider,
    SignOnRefused,
    identity,
    opened,
    sealer,
)
from ehx.console.throttle import LoginThrottle
from ehx.database import linker_mentions
from ehx.linker.index import confidence
from ehx.linker.model import LinkPolicy
from ehx.linker.people import people_in_reviews
from ehx.linker.service import review_message
from ehx.linker.store import LinkStore
from ehx.organisations.people import Account, AccountError, Accounts, Role
from ehx.rights.access import Package, UnknownPerson, as_html, assemble
from ehx.rights.markers import Markers
from ehx.schemas import THINK_FAMILY_PROBLEMS, ExchangeError, Recipient
from ehx.schemas.audit import Action, AuditRecord
from ehx.schemas.links import ReviewDecision
from ehx.schemas.vocabulary import Addressee
from ehx.timeline.reading import Entry, audit_record, chronology_csv, open_entry
from ehx.timeline.store import TimelineQuery, TimelineStore, UnknownEntry

if TYPE_CHECKING:  # the API app installs the console: no import cycle at run time
    from ehx.api.state import ApiState

HERE = Path(__file__).parent
#: Entries on one page of a family's timeline, the latest first: enough for years of a
#: family's contacts with every agency, few enough to open, render and read at once.
TIMELINE_PAGE = 200
templates = Jinja2Templates(directory=HERE / "templates")
templates.env.globals["view_names"] = {recipient.value: recipient.label for recipient in Recipient}
router = APIRouter(include_in_schema=False)

PROBLEM_NAMES = {
    "crime_antisocial_behaviour": "Crime or antisocial behaviour",
    "poor_school_attendance": "Poor school attendance",
    "child_in_need_or_protection": "Child in need or on a protection plan",
    "worklessness_financial_exclusion": "Worklessness or financial exclusion",
    "domestic_violence_abuse": "Domestic violence and abuse",
    "health_problems": "Health problems",
}


class ConsoleSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="EHX_CONSOLE_", frozen=True, extra="ignore")

    #: Signs session cookies; when unset, one is made and kept in the data directory.
    secret: str | None = None
    session_hours: float = 8.0
    #: Send the cookie over HTTPS only (set this behind TLS, as in production).
    secure_cookie: bool = False
    #: Single sign-on (OpenID Connect): the provider's issuer URL turns it on.
    oidc_issuer: str | None = None
    oidc_client_id: str = "ehx-console"
    oidc_client_secret: str = ""
    oidc_scope: str = "openid ehx"
    #: The claims that carry the person's groups and their organisation.
    oidc_groups_claim: str = "groups"
    oidc_organisation_claim: str = "organisation"


def _secret(settings: ConsoleSettings, data_dir: Path) -> str:
    if settings.secret:
        return settings.secret
    path = data_dir / "console.secret"
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600)
        path.write_text(secrets.token_urlsafe(48))
    return path.read_text().strip()


def install(
    app: FastAPI, data_dir: Path, settings: ConsoleSettings | None = None, clock: Clock = utc_now
) -> None:
    """Add the console's pages, static files and session middleware to ``app``; ``clock``
    says when a session has expired (a test's own, instead of waiting)."""
    settings = settings or ConsoleSettings()
    app.state.console_sessions = (timedelta(hours=settings.session_hours), clock)
    app.state.console_settings = settings
    app.state.console_secret = _secret(settings, data_dir)
    app.state.console_throttle = LoginThrottle(clock)
    #: Password checks at once (Argon2id is deliberately slow: see ``login``).
    app.state.console_hashing = asyncio.Semaphore(2)
    app.add_middleware(
        SessionMiddleware,
        secret_key=app.state.console_secret,
        session_cookie="ehx_session",
        max_age=int(settings.session_hours * 3600),
        same_site="strict",
        https_only=settings.secure_cookie,
    )
    if settings.secure_cookie:
        strict_transport(app)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    app.include_router(router)
    _answer_people_in_pages(app)


def _answer_people_in_pages(app: FastAPI) -> None:
    """A refusal or an error shown to a person in a browser is a page in plain words,
    saying what to do next; an API client still gets JSON. Either way the API's handler
    runs first (it records every 401 and 403 on the ledger)."""
    recorded = app.exception_handlers[StarletteHTTPException]

    async def answer(request: Request, exc: Exception) -> Response:
        json_answer = recorded(request, exc)
        if not isinstance(json_answer, Response):
            json_answer = await json_answer
        wants_page = "text/html" in request.headers.get("accept", "")
        if request.url.path.startswith("/v1") or not wants_page:
            return json_answer
        assert isinstance(exc, StarletteHTTPException)
        return templates.TemplateResponse(
            request,
            "error.html",
            {"account": None, "status": exc.status_code, "detail": str(exc.detail)},
            status_code=exc.status_code,
            headers=exc.headers,
        )

    app.add_exception_handler(StarletteHTTPException, answer)


# --- who is asking ------------------------------------------------------------------------


def _state(request: Request) -> ApiState:
    state: ApiState = request.app.state.ehx
    return state


def _csrf(request: Request) -> str:
    token = request.session.get("csrf")
    if not token:
        token = secrets.token_urlsafe(32)
        request.session["csrf"] = token
    return str(token)


def _address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _sessions(request: Request) -> Sessions:
    lifetime, clock = request.app.state.console_sessions
    return Sessions(_state(request).engine, lifetime, clock)


async def signed_in(request: Request) -> Account:
    token = request.session.get("session")
    username = _sessions(request).who(str(token)) if token else None
    account = Accounts(_state(request).engine).get(username) if username else None
    if account is None:
        request.session.pop("session", None)
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "sign in first")
    request.state.console_user = account.username  # a refusal after this names them
    return account


async def checked_form(request: Request, csrf: Annotated[str, Form()] = "") -> None:
    """A POST must carry the session's CSRF token (a form from another site cannot)."""
    expected = request.session.get("csrf")
    if not expected or not secrets.compare_digest(str(expected), csrf):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "the form has expired: reload")


Who = Annotated[Account, Depends(signed_in)]


def _may_open(path: str, account: Account) -> None:
    """403, saying who may, for a page the table (``PAGES``) does not open to them."""
    why = page_refusal(path, account)
    if why is not None:
        raise HTTPException(status.HTTP_403_FORBIDDEN, why)


def _page(request: Request, name: str, account: Account | None, **context: Any) -> HTMLResponse:
    return templates.TemplateResponse(
        request,
        name,
        {"account": account, "csrf": _csrf(request), "now": datetime.now(UTC), **context},
    )


# --- signing in ---------------------------------------------------------------------------


@router.get("/login", response_class=HTMLResponse)
async def login_page(request: Request, failed: bool = False) -> HTMLResponse:
    sso = request.app.state.console_settings.oidc_issuer is not None
    return _page(request, "login.html", None, failed=failed, sso=sso)


def _provider(request: Request) -> Provider:
    settings: ConsoleSettings = request.app.state.console_settings
    if settings.oidc_issuer is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "single sign-on is not set up here")
    return Provider(
        settings.oidc_issuer.rstrip("/"),
        settings.oidc_client_id,
        settings.oidc_client_secret,
        settings.oidc_scope,
    )


@router.get("/login/sso")
async def sso_start(request: Request) -> Response:
    """Off to the organisation's identity provider, with PKCE and a nonce."""
    provider = _provider(request)
    url, flow = provider.start(await provider.metadata(), str(request.url_for("sso_callback")))
    response = RedirectResponse(url, status.HTTP_303_SEE_OTHER)
    response.set_cookie(
        STATE_COOKIE,
        sealer(request.app.state.console_secret).dumps(flow),
        max_age=STATE_SECONDS,
        path="/login/sso",
        httponly=True,
        samesite="lax",  # it must come back with the person from the provider's site
        secure=request.app.state.console_settings.secure_cookie,
    )
    return response


@router.get("/login/sso/callback", name="sso_callback", response_model=None)
async def sso_callback(
    request: Request, code: str = "", state: str = "", error: str = ""
) -> Response:
    """Back from the provider: check everything, then sign the person in as it says."""
    provider, settings = _provider(request), request.app.state.console_settings
    try:
        flow = opened(request.cookies.get(STATE_COOKIE), request.app.state.console_secret)
        if error or not code or not secrets.compare_digest(state, flow["state"]):
            raise SignOnRefused("the identity provider did not sign you in: try again")
        claims = await provider.claims(
            await provider.metadata(), code, flow, str(request.url_for("sso_callback"))
        )
        who = identity(claims, settings.oidc_groups_claim, settings.oidc_organisation_claim)
        account = Accounts(_state(request).engine).signed_on(who)
    except (SignOnRefused, AccountError) as refused:
        await record_refusal(request, status.HTTP_403_FORBIDDEN, f"single sign-on: {refused}")
        page = _page(request, "login.html", None, failed=False, sso=True, refused=str(refused))
        page.status_code = status.HTTP_403_FORBIDDEN
        page.delete_cookie(STATE_COOKIE, path="/login/sso")
        return page
    response = _signed_in_as(request, account)
    response.delete_cookie(STATE_COOKIE, path="/login/sso")
    return response


@router.post("/login")
async def login(
    request: Request,
    username: Annotated[str, Form()],
    password: Annotated[str, Form()],
    _: Annotated[None, Depends(checked_form)],
) -> Response:
    throttle: LoginThrottle = request.app.state.console_throttle
    counted = [("name", username.casefold()), ("address", _address(request))]
    locked = throttle.locked_until(counted)
    if locked is not None:
        why = f"too many failed sign-ins: try after {locked:%H:%M} UTC or ask an administrator"
        await record_refusal(request, status.HTTP_429_TOO_MANY_REQUESTS, why)
        page = _page(request, "login.html", None, failed=False, locked=why)
        page.status_code = status.HTTP_429_TOO_MANY_REQUESTS
        return page
    # Argon2 takes tens of milliseconds of CPU on purpose: off the event loop, two at a
    # time, so a burst of attempts slows sign-in and nothing else.
    async with request.app.state.console_hashing:
        account = await asyncio.to_thread(
            Accounts(_state(request).engine).check, username, password
        )
    if account is None:
        throttle.failed(counted)
        await record_refusal(request, status.HTTP_401_UNAUTHORIZED, "wrong name or password")
        return RedirectResponse("/login?failed=true", status.HTTP_303_SEE_OTHER)
    throttle.succeeded(username.casefold())
    return _signed_in_as(request, account)


def _signed_in_as(request: Request, account: Account) -> Response:
    """A new session for ``account`` (none kept from before: no fixation), and its home."""
    request.session.clear()
    request.session["session"] = _sessions(request).start(account.username)
    _csrf(request)
    home = (
        "/audit"
        if account.audits
        else "/admin"
        if account.role is Role.ADMIN
        else "/"
        if account.screens
        else "/families"
    )
    return RedirectResponse(home, status.HTTP_303_SEE_OTHER)


@router.post("/logout")
async def logout(request: Request, _: Annotated[None, Depends(checked_form)]) -> Response:
    token = request.session.get("session")
    if token:
        _sessions(request).end(str(token))  # over for every copy of the cookie, too
    request.session.clear()
    return RedirectResponse("/login", status.HTTP_303_SEE_OTHER)


# --- the alert queue ------------------------------------------------------------------------


def _clock(due: Any, now: datetime) -> dict[str, Any] | None:
    if not due:
        return None
    due = due if due.tzinfo else due.replace(tzinfo=UTC)
    minutes = int((due - now).total_seconds() // 60)
    span = f"{abs(minutes) // 60} h {abs(minutes) % 60} min"
    return {
        "at": due,
        "overdue": minutes < 0,
        "text": f"overdue by {span}" if minutes < 0 else f"due in {span}",
    }


@router.get("/", response_class=HTMLResponse)
async def queue(request: Request, account: Who, decided_too: bool = False) -> HTMLResponse:
    _may_open("/", account)
    store, now = AlertStore(_state(request).engine), datetime.now(UTC)
    rows = store.queue(include_decided=decided_too)
    await record(
        request, queue_read(rows, account.username, account.role_name, _view(account), now)
    )
    named = _people_named(request, [str(r["family_id"]) for r in rows[:QUEUE_NAMED]], account)
    for row in rows:
        row["clock"] = _clock(row["due_at"], now)
        row["people"] = [words for _, words in named.get(str(row["family_id"]), [])]
    notices = [n | {"clock": _clock(n["due_at"], now)} for n in store.notifications(now)]
    return _page(request, "queue.html", account, alerts=rows, notices=notices)


#: Queue rows whose families are named (the most urgent): each name is a sealed box opened.
QUEUE_NAMED = 100


def _people_named(
    request: Request, families: list[str], account: Account
) -> dict[str, list[tuple[str, str]]]:
    """Each family's people as the account's views name them: (person id, "Yusuf Khan,
    12"), the children first; nobody the views do not name (an indicator names no one)."""
    if not families:
        return {}
    engine = _state(request).engine
    views = TimelineStore(engine).family_views([_view(account)], families)
    keys = DataKeyStore(engine)
    now = datetime.now(UTC)
    named: dict[str, list[tuple[int, str, str]]] = {}
    for family, found in views.items():
        seen: dict[str, tuple[int, str, str]] = {}
        for view in found:
            if all(s.demographics is None or s.person_id in seen for s in view.subjects):
                continue  # nobody new named here: no box to open
            for person in open_entry(view, keys).people:
                if person.name and person.person_id not in seen:
                    years = _age(person.date_of_birth, now)
                    words = f"{person.name}, {years}" if years is not None else person.name
                    seen[person.person_id] = (
                        years if years is not None else 200,
                        words,
                        person.person_id,
                    )
        named[family] = sorted(seen.values())
    return {family: [(who, words) for _, words, who in found] for family, found in named.items()}


def _age(born: str | None, now: datetime) -> int | None:
    return age(date.fromisoformat(str(born)[:10]), now) if born else None


def _view(account: Account) -> str:
    """Whose views the account reads: its hub's or the police's, or, for a school's,
    trust's or landlord's practitioner, its own organisation's (``school:103291``). Such
    an account that names no organisation reads none."""
    if account.view in SERVING:
        if account.organisation is None:
            raise HTTPException(
                status.HTTP_403_FORBIDDEN,
                "your account names no organisation: an administrator adds it with "
                f"ehx people add NAME --role practitioner --view {account.view.value} "
                "--org CODE",
            )
        return str(Addressee(account.view, account.organisation))
    return account.view.value if account.view else account.role.value


# --- a family -------------------------------------------------------------------------------


@router.get("/families", response_class=HTMLResponse)
async def families(request: Request, account: Who) -> HTMLResponse:
    """The families with anything in the account's view, each with its people as the
    view names them (the first hundred: each name is a sealed box opened); the read,
    which families and which people, is on the ledger first."""
    _may_open("/families", account)
    found = TimelineStore(_state(request).engine).families(_view(account))
    named = _people_named(request, found[:QUEUE_NAMED], account)
    people = {who for family in named.values() for who, _ in family}
    await _read(request, account, Action.FAMILIES_READ, "families list", {*found, *people})
    rows = [{"family_id": f, "people": [w for _, w in named.get(f, [])]} for f in found]
    return _page(request, "families.html", account, families=rows, named_up_to=QUEUE_NAMED)


async def _chronology(request: Request, family_id: str, account: Account) -> list[Entry]:
    """The family's whole chronology as this account may see it, oldest first; the read
    is on the ledger before it is opened."""
    _may_open("/families", account)
    state, whose = _state(request), _view(account)
    views = TimelineStore(state.engine).entries(TimelineQuery(whose, family_id=family_id))
    await record(
        request,
        audit_record(
            views,
            account.username,
            account.role_name,
            whose,
            "chronology export",
            datetime.now(UTC),
            family_id,
        ),
    )
    keys = DataKeyStore(state.engine)
    return Markers(state.engine).shown_with_disputes([open_entry(v, keys) for v in views])


@router.get("/families/{family_id}/chronology.csv")
async def chronology(request: Request, family_id: str, account: Who) -> Response:
    """The chronology as CSV, for a strategy discussion or the case file."""
    entries = await _chronology(request, family_id, account)
    named = "".join(c for c in family_id if c.isalnum() or c in "-_")[:40]
    return Response(
        chronology_csv(entries),
        media_type="text/csv",
        headers={"Content-Disposition": f'attachment; filename="chronology-{named}.csv"'},
    )


@router.get("/families/{family_id}/chronology", response_class=HTMLResponse)
async def chronology_page(request: Request, family_id: str, account: Who) -> HTMLResponse:
    """The chronology as one page to read or print (a browser saves it as PDF): every
    entry, oldest first, with who it is about and why the reader may see it."""
    entries = await _chronology(request, family_id, account)
    return _page(request, "chronology.html", account, family_id=family_id, entries=entries)


def _members(request: Request, people: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """Each person, and how sure the linker is that their records are one person."""
    # A probabilistic link keeps the record under an id of its own, merged into the
    # person: gather every id that is now each person.
    engine = _state(request).engine
    links_store = LinkStore(engine)
    person_of = links_store.members(people)
    with engine.connect() as connection:
        rows = connection.execute(
            select(
                linker_mentions.c.person_id, linker_mentions.c.band, linker_mentions.c.weight
            ).where(linker_mentions.c.person_id.in_(sorted(person_of)))
        ).all()
    links: dict[str, list[tuple[str, float | None]]] = {}
    for member, band, weight in rows:
        links.setdefault(person_of[member], []).append((band, weight))
    # The prior the weights were set against: the model's (hand-set, or the last learnt).
    policy = links_store.latest_model().policy if links else None
    members = []
    for person_id, seen in sorted(people.items()):
        bands = links.get(person_id, [])
        if any(b == "review" for b, _ in bands):
            how = "a possible match awaits review"
        elif any(b == "linked" for b, _ in bands):
            weakest = min(w for b, w in bands if b == "linked" and w is not None)
            sure = confidence(weakest, policy or LinkPolicy())
            odds = "over 99.99%" if sure > 0.9999 else f"{sure:.2%}"
            how = (
                f"matched across agencies on name, birth date and address: the weakest "
                f"match {weakest:.0f} bits, {odds} sure"
            )
        elif any(b == "deterministic" for b, _ in bands):
            how = "linked by an identifier (NHS number, UPN, PNC or agency reference)"
        else:
            how = "one record"
        members.append({**seen, "person_id": person_id, "records": len(bands), "link": how})
    return members


@router.get("/families/{family_id}", response_class=HTMLResponse)
async def family(
    request: Request,
    family_id: str,
    account: Who,
    category: Annotated[list[str] | None, Query()] = None,
    before: Annotated[str | None, Query()] = None,
) -> HTMLResponse:
    _may_open("/families", account)
    state, now = _state(request), datetime.now(UTC)
    store = TimelineStore(state.engine)
    chosen = frozenset(category or ())
    wanted = TimelineQuery(
        _view(account), family_id=family_id, categories=chosen, limit=TIMELINE_PAGE, before=before
    )
    try:
        page = store.page(wanted)
    except UnknownEntry as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from exc
    views = page.entries
    # The read is on the ledger before anything is shown.
    await record(
        request,
        audit_record(
            views, account.username, account.role_name, _view(account), "screening", now, family_id
        ),
    )
    keys = DataKeyStore(state.engine)
    entries = Markers(state.engine).shown_with_disputes([open_entry(v, keys) for v in views])
    people: dict[str, dict[str, Any]] = {}
    for entry in entries:
        for p in entry.people:
            known = people.setdefault(p.person_id, {"name": None, "roles": set()})
            known["name"] = known["name"] or p.name
            known["roles"].add(p.role)
    # The family's whole picture: the page's views already, unless a filter or the page
    # narrowed them. (The people named are those of the page's entries: opening every
    # entry's sealed names would cost what paging saves.)
    whole = not chosen and not before and not page.earlier
    all_views = (
        views if whole else store.entries(TimelineQuery(_view(account), family_id=family_id))
    )
    seen = picture(all_views)
    level, reasons = suggest_level(
        seen, [v.basis.rule for v in all_views if v.basis.rule and v.basis.outcome == "override"]
    )
    grid = [
        {
            "name": PROBLEM_NAMES.get(c.value, c.value),
            "present": c in seen.problems,
            "agencies": ", ".join(seen.agencies.get(c, ())),
        }
        for c in THINK_FAMILY_PROBLEMS
    ]
    consents = _consents(state, family_id, list(people))
    alerts = (
        [
            a
            for a in AlertStore(state.engine).queue(include_decided=True)
            if a["family_id"] == family_id
        ]
        if account.screens
        else []
    )
    categories = sorted({c for v in all_views for c in v.categories})
    return _page(
        request,
        "family.html",
        account,
        family_id=family_id,
        entries=entries,
        members=_members(request, people),
        grid=grid,
        level=level.value.replace("_", " "),
        reasons=reasons,
        consents=consents,
        alerts=alerts,
        decisions=list(ScreeningDecision),
        min_rationale=MIN_RATIONALE,
        raises_concerns=_raises_concerns(account),
        concern_raised=request.query_params.get("concern") == "raised",
        categories=categories,
        chosen=chosen,
        # Links to the other pages of the same filtered timeline: this page's own query,
        # with ``before`` moved or taken off.
        earlier=f"?{request.url.include_query_params(before=page.before).query}"
        if page.before
        else None,
        latest=f"?{request.url.remove_query_params('before').query}" if before else None,
    )


@router.post("/families/{family_id}/concern")
async def raise_concern(
    request: Request,
    family_id: str,
    account: Who,
    person_id: Annotated[str, Form(max_length=64)],
    reason: Annotated[str, Form(max_length=2000)],
    _: Annotated[None, Depends(checked_form)],
) -> Response:
    """A practitioner (a school's DSL, a health visitor) raises a concern that a child is
    at risk of significant harm: the family's records go to the MASH as an override, and
    the MASH screens it. Only about someone in their own view of the family."""
    if not _raises_concerns(account) or account.view is None:
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            "concerns are raised by the practitioners who work with the family (a school's "
            "DSL, a health visitor, a housing officer, the police); the MASH screens them",
        )
    seen = TimelineStore(_state(request).engine).entries(
        TimelineQuery(_view(account), family_id=family_id)
    )
    if person_id not in {s.person_id for v in seen for s in v.subjects}:
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            "you may raise a concern about someone your organisation works with in this "
            "family; about anyone else, call the MASH, who can see the whole family",
        )
    if len(reason.strip()) < MIN_RATIONALE:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            "say what you saw or were told, in a sentence: the MASH screens on your words",
        )
    assertion = HarmAssertion(
        person_id=person_id,
        family_id=family_id,
        asserted_by=account.username,
        asserted_by_agency=account.view,
        asserted_by_organisation=account.organisation,
        reason=reason.strip(),
        asserted_at=datetime.now(UTC),
    )
    await _state(request).publisher.publish([consent_message(assertion)])
    return RedirectResponse(f"/families/{family_id}?concern=raised", status.HTTP_303_SEE_OTHER)


def _raises_concerns(account: Account) -> bool:
    """Practitioners raise concerns; the screening team receives them."""
    return account.role is Role.PRACTITIONER and account.view is not None


def _consents(state: ApiState, family_id: str, people: Sequence[str]) -> list[dict[str, Any]]:
    store, now = ConsentStore(state.engine), datetime.now(UTC)
    found: dict[str, ConsentRecord] = {}
    for subject in [family_id, *people]:
        for kept in store.records_about(subject):
            if isinstance(kept, ConsentRecord):
                found[str(kept.consent_id)] = kept
    return [
        {
            "state": r.state.value,
            "in_force": r.in_force(now),
            "subject": r.subject_id,
            "giver": r.giver.value,
            "recipients": ", ".join(x.value for x in r.recipients),
            "purpose": r.purpose.value.replace("_", " "),
            "until": r.valid_until,
        }
        for r in sorted(found.values(), key=lambda r: r.recorded_at)
    ]


@router.post("/alerts/{alert_id}/take")
async def take(
    request: Request,
    alert_id: str,
    account: Who,
    _: Annotated[None, Depends(checked_form)],
) -> Response:
    """A screener takes the alert: in screening, in their name, for the team to see."""
    store = AlertStore(_state(request).engine)
    try:
        why = (
            refusal(store.get(alert_id)["kind"], account.team)
            if account.screens
            else ("screening is the screening team's")
        )
        if why is not None:
            raise HTTPException(status.HTTP_403_FORBIDDEN, why)
        store.screen(alert_id, account.username, datetime.now(UTC))
    except AlertNotFound as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from exc
    except ExchangeError as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from exc
    family = store.get(alert_id)["family_id"]
    return RedirectResponse(f"/families/{family}#decision", status.HTTP_303_SEE_OTHER)


@router.post("/alerts/{alert_id}/decision")
async def decide(
    request: Request,
    alert_id: str,
    account: Who,
    outcome: Annotated[ScreeningDecision, Form()],
    rationale: Annotated[str, Form(max_length=4000)],
    _: Annotated[None, Depends(checked_form)],
    lead_professional: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    if not account.screens:
        raise HTTPException(
            status.HTTP_403_FORBIDDEN, "screening decisions are the screening team's"
        )
    store, now = AlertStore(_state(request).engine), datetime.now(UTC)
    try:
        kind = store.get(alert_id)["kind"]
        why = refusal(kind, account.team) or closing_refusal(kind, outcome, account.role_name)
        if why is not None:
            raise HTTPException(status.HTTP_403_FORBIDDEN, why)
        store.decide(alert_id, outcome, account.username, now, rationale, lead_professional)
    except DecisionIncomplete as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from exc
    except ExchangeError as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from exc
    alert = store.get(alert_id)
    await record(request, decided(alert, account.username, account.role_name, _view(account), now))
    return RedirectResponse(f"/families/{alert['family_id']}#decision", status.HTTP_303_SEE_OTHER)


# --- finding a person ----------------------------------------------------------------------------


@router.get("/search", response_class=HTMLResponse)
async def search_page(
    request: Request,
    account: Who,
    name: Annotated[str, Query(max_length=100)] = "",
    born: Annotated[str, Query(max_length=10)] = "",
    nhs_number: Annotated[str, Query(max_length=14)] = "",
    purpose: Annotated[str, Query(max_length=200)] = "",
) -> HTMLResponse:
    """Find a person by name, date of birth or NHS number, as the account may see them."""
    _may_open("/search", account)
    asked = bool(name or born or nhs_number)
    found: list[dict[str, Any]] = []
    problem = ""
    if asked:
        try:
            when = date.fromisoformat(born) if born else None
        except ValueError:
            when, problem = None, "a date of birth is written 2014-06-02"
        if not problem and not purpose.strip():
            problem = "say why you are looking: it is recorded with your search"
        if not problem:
            try:
                found = find_people(
                    _state(request).engine,
                    account.acts_for or "",
                    name=name,
                    born=when,
                    nhs_number=nhs_number,
                )
            except SearchRefused as exc:
                problem = str(exc)
            else:
                await record(
                    request,
                    search_read(
                        found, account.username, account.role_name, account.acts_for or "", purpose
                    ),
                )
    return _page(
        request,
        "search.html",
        account,
        asked=asked and not problem,
        found=found,
        problem=problem,
        query={"name": name, "born": born, "nhs_number": nhs_number, "purpose": purpose},
    )


# --- what was decided ----------------------------------------------------------------------------


@router.get("/outcomes", response_class=HTMLResponse)
async def outcomes_page(request: Request, account: Who) -> HTMLResponse:
    """What the screening team decided about each case the organisation's records were
    behind: the referrer hears what happened to the referral."""
    _may_open("/outcomes", account)
    whose = account.acts_for or ""
    rows = AlertStore(_state(request).engine).outcomes(whose)
    families = {str(r["family_id"]) for r in rows}
    await _read(request, account, Action.OUTCOMES_READ, "screening outcomes", families)
    return _page(request, "outcomes.html", account, outcomes=rows)


async def _read(
    request: Request, account: Account, action: Action, purpose: str, about: set[str]
) -> None:
    """A page's read on the ledger before it is shown: who, as whom, about which ids."""
    await record(
        request,
        AuditRecord(
            action=action,
            actor=account.username,
            role=account.role_name,
            agency=account.acts_for or account.role.value,
            purpose=purpose,
            subject_ids=tuple(sorted(about)),
            at=datetime.now(UTC),
        ),
    )


# --- Operation Encompass -----------------------------------------------------------------------


@router.get("/encompass", response_class=HTMLResponse)
async def encompass_page(request: Request, account: Who) -> HTMLResponse:
    """Operation Encompass notifications: a school's people see and acknowledge their
    pupils'; the local authority's officer those no school has met (a child on no roll
    we hold, or unmet past the deputy); the MASH reads them all."""
    _may_open("/encompass", account)
    now = datetime.now(UTC)
    whose = None if account.team is Recipient.MASH else account.acts_for
    rows = AlertStore(_state(request).engine).notifications(now, whose)
    children = {str(r["person_id"]) for r in rows}
    await _read(
        request, account, Action.ENCOMPASS_READ, "Operation Encompass notifications", children
    )
    names = _children_named(request, rows, account)
    for row in rows:
        row["clock"] = _clock(row["due_at"], now)
        row["name"], row["born"] = names.get((row["event_id"], row["person_id"]), (None, None))
    return _page(request, "encompass.html", account, notices=rows)


def _children_named(
    request: Request, rows: list[dict[str, Any]], account: Account
) -> dict[tuple[str, str], tuple[str | None, str | None]]:
    """Each notified child's name and date of birth, from the notification's own view
    (the school's; the local authority's where no school was known), opened with its
    keys: a school's people see their pupils', the officer and the MASH any."""
    if account.acknowledges_encompass and account.role is not Role.ENCOMPASS_OFFICER:
        whose = {account.acts_for or ""}
    else:
        whose = {
            str(Addressee(Recipient.SCHOOLS, r["school_urn"])) for r in rows if r["school_urn"]
        }
        whose.add(Recipient.SCHOOLS.value)
    engine = _state(request).engine
    families = sorted({str(r["family_id"]) for r in rows})
    views = TimelineStore(engine).family_views(sorted(whose), families)
    wanted = {(str(r["event_id"]), str(r["person_id"])) for r in rows}
    keys = DataKeyStore(engine)
    named: dict[tuple[str, str], tuple[str | None, str | None]] = {}
    for view in (v for vs in views.values() for v in vs):
        if not any((str(view.event_id), s.person_id) in wanted for s in view.subjects):
            continue
        for person in open_entry(view, keys).people:
            key = (str(view.event_id), person.person_id)
            if key in wanted and person.name:
                named[key] = (person.name, person.date_of_birth)
    return named


@router.post("/encompass/{notification_id}/acknowledge")
async def acknowledge_notification(
    request: Request,
    notification_id: str,
    account: Who,
    _: Annotated[None, Depends(checked_form)],
) -> Response:
    """Acknowledged in the person's name; another school's notification is not found."""
    if not account.acknowledges_encompass:
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            "a notification is acknowledged by its school's key adult or the local "
            "authority's Operation Encompass officer",
        )
    try:
        AlertStore(_state(request).engine).acknowledge(
            notification_id, account.username, datetime.now(UTC), account.acts_for
        )
    except AlertNotFound as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from exc
    return RedirectResponse("/encompass?acknowledged=1", status.HTTP_303_SEE_OTHER)


# --- the auditor's page -----------------------------------------------------------------------


@router.get("/audit", response_class=HTMLResponse)
async def audit_page(request: Request, account: Who, family: str | None = None) -> HTMLResponse:
    _may_open("/audit", account)
    state = _state(request)
    ledger = AuditLedger(state.engine)
    seen = queries.who_saw(ledger, family) if family else []
    await record(request, queries.auditors_query(account.username, "console audit page", family))
    waiting = [o for o in queries.overrides(ledger) if not o["reviews"]]
    verdict = verify(ledger.entries(), ledger.checkpoints(), state.keys.ledger_public_key())
    points = ledger.checkpoints()
    return _page(
        request,
        "audit.html",
        account,
        family=family,
        seen=[r for r in seen if r["seen"] == "viewed"],
        received=[r for r in seen if r["seen"] == "received"],
        waiting=waiting,
        verdict=verdict,
        last_checkpoint=points[-1] if points else None,
    )


# --- the data protection officer's page -------------------------------------------------------


@router.get("/rights", response_class=HTMLResponse)
async def rights_page(request: Request, account: Who, person: str | None = None) -> HTMLResponse:
    """A subject access request: what is held about a person, what will be released, and
    what is held back for the DPO's decision. Assembling it is a read, on the ledger first."""
    _may_open("/rights", account)
    package = await _subject_access(request, account, person) if person else None
    return _page(request, "rights.html", account, person=person, package=package)


@router.get("/rights/{person}/subject-access.{kind}")
async def rights_download(request: Request, account: Who, person: str, kind: str) -> Response:
    """The requester's copy, as HTML (to read, print or save as PDF) or JSON."""
    if kind not in ("html", "json"):
        raise HTTPException(status.HTTP_404_NOT_FOUND, "the package is .html or .json")
    package = await _subject_access(request, account, person)
    named = "".join(c for c in person if c.isalnum())[:40]
    body, media = (
        (as_html(package), "text/html")
        if kind == "html"
        else (json.dumps(package.released(), indent=2), "application/json")
    )
    return Response(
        body,
        media_type=media,
        headers={"Content-Disposition": f'attachment; filename="subject-access-{named}.{kind}"'},
    )


async def _subject_access(request: Request, account: Account, person: str) -> Package:
    _may_open("/rights", account)
    try:
        package = assemble(
            _state(request).engine,
            person,
            account.username,
            load_policy().subject_access,
            datetime.now(UTC),
        )
    except UnknownPerson as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from exc
    await record(
        request,
        AuditRecord(
            action=Action.SUBJECT_ACCESS,
            actor=account.username,
            role=account.role_name,
            agency=account.acts_for or "auditor",
            purpose="subject access request",
            subject_ids=tuple(package.ids),
            event_ids=tuple(package.event_ids),
            at=datetime.now(UTC),
        ),
    )
    return package


# --- the administrator's page -----------------------------------------------------------------


@router.get("/admin", response_class=HTMLResponse)
async def admin_page(request: Request, account: Who) -> HTMLResponse:
    """The accounts, their roles and views (added and disabled with ``ehx people``)."""
    _may_open("/admin", account)
    return _page(request, "admin.html", account, people=Accounts(_state(request).engine).all())


# --- the clerical review queue ----------------------------------------------------------------


@router.get("/links", response_class=HTMLResponse)
async def links_page(request: Request, account: Who) -> HTMLResponse:
    """Uncertain identity links, strongest first, the evidence field by field."""
    _may_open("/links", account)
    rows = LinkStore(_state(request).engine).reviews()
    await record_read(
        request,
        Action.LINKS_READ,
        Recipient.MASH,
        account.username,
        "the link review queue",
        subject_ids=people_in_reviews(rows),
    )
    return _page(request, "links.html", account, reviews=rows)


@router.post("/links/{review_id}")
async def decide_link(
    request: Request,
    review_id: str,
    account: Who,
    same: Annotated[str, Form()],
    reason: Annotated[str, Form()],
    _: Annotated[None, Depends(checked_form)],
) -> Response:
    if account.team is not Recipient.MASH:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "link review is the MASH screening team's")
    row = LinkStore(_state(request).engine).review(review_id)
    if row is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such pair in the queue")
    decision = ReviewDecision(
        review_id=review_id,
        person_id=row["person_id"],
        candidate_id=row["candidate_id"],
        same_person=same == "yes",
        decided_by=account.username,
        reason=reason,
        decided_at=datetime.now(UTC),
    )
    await _state(request).publisher.publish([review_message(decision)])
    return RedirectResponse("/links?sent=1", status.HTTP_303_SEE_OTHER)
