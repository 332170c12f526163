"""The authorisation matrix, generated from the permission table: every route of the API
with every kind of token (and none, and a dead one), held to ``PERMISSIONS``.

The probe's matrix was 23 operations x 11 token kinds; this one is every route in the
table x the seven kinds of token there are, plus no token, an unknown token, a revoked
and an expired one (about 250 requests), and every route the table marks scoped to an
organisation, called by another organisation of the same kind.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import Engine, update

from ehx.alerts.store import AlertStore, ScreeningDecision
from ehx.api import AgencyCredentials
from ehx.api.permissions import AGENCIES, HOLDERS, PERMISSIONS
from ehx.consent.store import ConsentStore
from ehx.database import agency_credentials
from ehx.schemas.vocabulary import Recipient
from tests.consent.fakes import AMINA, FAMILY, family_consent
from tests.flows import ANDERTON, MARYAMS_SCHOOL, YUSUFS_SCHOOL, directory_loaded, khans_on_file
from tests.helpers import EXAMPLES
from tests.people import registered
from tests.serving import auth

pytestmark = pytest.mark.kafka

Client = tuple[httpx.Client, AgencyCredentials]


def call(http: httpx.Client, method: str, route: str, holder: str, token: str) -> httpx.Response:
    """The route with placeholder ids (an agency's own name where the route names one)."""
    agency = holder if holder in AGENCIES else "police"
    path = re.sub(r"\{[a-z_]+\}", "x1", route.replace("{agency}", agency))
    params = {"by": "matrix-1", "reader": "matrix-1", "as": "mash"}
    if method == "GET":
        return http.get(path, params=params, headers=auth(token))
    return http.post(path, params=params, json={}, headers=auth(token))


def gate_refused(answer: httpx.Response) -> bool:
    return answer.status_code == 403 and answer.json()["detail"].startswith("this is for ")


def test_every_route_lets_in_exactly_the_kinds_of_token_the_table_lists(
    client: Client,
) -> None:
    http, credentials = client
    tokens = {holder: credentials.issue(holder, f"matrix {holder}") for holder in HOLDERS}
    wrong = []
    for (method, route), allowed in PERMISSIONS.items():
        for holder, token in tokens.items():
            answer = call(http, method, route, holder, token)
            assert answer.status_code < 500, (method, route, holder, answer.text)
            expected_in = holder in allowed.holders
            if expected_in == gate_refused(answer) or answer.status_code == 401:
                wrong.append(f"{method} {route} as {holder}: {answer.status_code} {answer.text}")
            if not expected_in:  # the refusal says who could
                assert answer.json()["detail"] == f"this is for {allowed.who}"
    assert not wrong, "\n".join(wrong)


def test_no_token_and_dead_tokens_are_refused_on_every_route(
    client: Client, sqlite_engine: Engine
) -> None:
    http, credentials = client
    revoked = credentials.issue("police", "retired server")
    credentials.revoke(revoked)
    expired = credentials.issue("schools", "old MIS", days=1)
    with sqlite_engine.begin() as connection:
        connection.execute(
            update(agency_credentials)
            .where(agency_credentials.c.label == "old MIS")
            .values(expires_at=datetime.now(UTC) - timedelta(minutes=1))
        )
    for method, route in PERMISSIONS:
        for token in ("", "ehx_police_not-a-token", revoked, expired):
            headers = auth(token) if token else {}
            path = re.sub(r"\{[a-z_]+\}", "x1", route.replace("{agency}", "police"))
            answer = http.request(
                method, path, headers=headers, json={} if method == "POST" else None
            )
            assert answer.status_code == 401, (method, route, token[:12], answer.text)


def test_the_table_covers_every_route_the_api_serves(client: Client) -> None:
    http, _ = client
    served = {
        (method.upper(), path)
        for path, operations in http.get("/openapi.json").json()["paths"].items()
        for method in operations
    }
    assert served == set(PERMISSIONS)


def test_every_scoped_route_gives_another_school_nothing_of_the_first(
    client: Client, sqlite_engine: Engine
) -> None:
    """The table's organisation-scoped routes, each called by another organisation of the
    same kind: Ashfield (Maryam's school) against what is Sparkhill's (Yusuf's)."""
    http, credentials = client
    family = khans_on_file(sqlite_engine)
    directory_loaded(sqlite_engine)
    sparkhill = credentials.issue("schools", "Sparkhill", organisation=YUSUFS_SCHOOL)
    ashfield = credentials.issue("schools", "Ashfield", organisation=MARYAMS_SCHOOL)
    anderton = credentials.issue("schools", "Anderton", organisation=ANDERTON)
    mash = credentials.issue("mash", "MASH")
    # Each school's designated safeguarding lead, who reads and acts with its token.
    dsl = {
        token: registered(sqlite_engine, f"dsl-{urn}", f"school:{urn}")
        for token, urn in (
            (sparkhill, YUSUFS_SCHOOL),
            (ashfield, MARYAMS_SCHOOL),
            (anderton, ANDERTON),
        )
    }
    yusufs = next(
        n
        for n in http.get("/v1/encompass", headers=auth(mash)).json()
        if n["school_urn"] == YUSUFS_SCHOOL
    )
    yusuf = yusufs["person_id"]
    sparkhill_row = next(
        line
        for line in (EXAMPLES / "schools.csv").read_text().splitlines()
        if f",{YUSUFS_SCHOOL}," in line
    )
    header = (EXAMPLES / "schools.csv").read_text().splitlines()[0]

    def timeline(token: str) -> set[str]:
        url = f"/v1/families/{family}/timeline"
        entries = http.get(url, params={"reader": dsl[token]}, headers=auth(token)).json()
        return {p["person_id"] for e in entries for p in e["people"]}

    def previewed(token: str) -> set[str]:
        url = f"/v1/families/{family}/preview"
        lines = http.get(url, params={"as": "schools"}, headers=auth(token)).json()
        return {p.split(" ")[0] for line in lines for p in line["people"]}

    # A consent Sparkhill recorded, as the consent service keeps it.
    theirs = family_consent((Recipient.HOUSING,)).model_copy(
        update={"recorded_by_agency": Recipient.SCHOOLS, "recorded_by_organisation": YUSUFS_SCHOOL}
    )
    ConsentStore(sqlite_engine).save_record(theirs)

    def consents(token: str) -> set[str]:
        url = f"/v1/subjects/{FAMILY}/consents"
        return {c["consent_id"] for c in http.get(url, headers=auth(token)).json()}

    def record(token: str) -> int:
        body = {
            "subject_kind": "family",
            "subject_id": family,
            "given_by": AMINA,
            "giver": "parent",
            "recorded_by": dsl[token],
            "recipients": ["housing"],  # not schools: the consent topic is shared
            "categories": ["domestic_violence_abuse"],
            "purpose": "early_help_assessment",
            "evidence": "signed form in the pupil file",
        }
        return http.post("/v1/consents", json=body, headers=auth(token)).status_code

    def withdraw(token: str) -> int:
        url = f"/v1/consents/{theirs.consent_id}/withdraw"
        return http.post(url, json={"withdrawn_by": dsl[token]}, headers=auth(token)).status_code

    def encompass(token: str) -> set[str]:
        return {n["person_id"] for n in http.get("/v1/encompass", headers=auth(token)).json()}

    def acknowledge(token: str) -> int:
        url = f"/v1/encompass/{yusufs['notification_id']}/acknowledge"
        return http.post(url, json={"by": dsl[token]}, headers=auth(token)).status_code

    def submit(token: str) -> int:
        body = f"{header}\n{sparkhill_row}\n".encode()
        headers = {**auth(token), "Content-Type": "text/csv"}
        return int(
            http.post("/v1/agencies/schools/records", content=body, headers=headers).json()[
                "accepted"
            ]
        )

    # The family's case decided: each school whose records were behind it is told.
    [case] = AlertStore(sqlite_engine).queue()
    AlertStore(sqlite_engine).decide(
        case["alert_id"],
        ScreeningDecision.UNIVERSAL_PLUS,
        "sw-matrix",
        datetime.now(UTC),
        "Universal services can meet the needs seen.",
    )

    def outcomes(token: str) -> set[str]:
        told = http.get("/v1/outcomes", params={"reader": dsl[token]}, headers=auth(token))
        return {ref for o in told.json() for ref in o["records"]}

    # Each check: what the other school gets of Sparkhill's, then Sparkhill's own.
    checks: dict[tuple[str, str], tuple[Callable[[], bool], Callable[[str], object]]] = {
        ("POST", "/v1/agencies/{agency}/records"): (lambda: submit(ashfield) == 0, submit),
        ("GET", "/v1/families/{family_id}/timeline"): (
            lambda: yusuf not in timeline(ashfield),
            lambda t: yusuf in timeline(t),
        ),
        ("GET", "/v1/outcomes"): (
            lambda: not outcomes(ashfield) & outcomes(sparkhill),
            lambda t: bool(outcomes(t)),
        ),
        ("GET", "/v1/encompass"): (
            lambda: yusuf not in encompass(ashfield),
            lambda t: yusuf in encompass(t),
        ),
        ("POST", "/v1/encompass/{notification_id}/acknowledge"): (
            lambda: acknowledge(ashfield) == 404,
            lambda t: acknowledge(t) == 200,
        ),
        ("GET", "/v1/families/{family_id}/preview"): (
            lambda: yusuf not in previewed(ashfield),
            lambda t: yusuf in previewed(t),
        ),
        ("GET", "/v1/subjects/{subject_id}/consents"): (
            lambda: str(theirs.consent_id) not in consents(ashfield),
            lambda t: str(theirs.consent_id) in consents(t),
        ),
        # A school that works with the family records consent; one that does not cannot.
        ("POST", "/v1/consents"): (lambda: record(anderton) == 403, lambda t: record(t) == 202),
        ("POST", "/v1/consents/{consent_id}/withdraw"): (
            lambda: withdraw(ashfield) == 403,
            lambda t: withdraw(t) == 202,
        ),
    }
    scoped = {route for route, allowed in PERMISSIONS.items() if allowed.scoped}
    assert scoped == set(checks), "every scoped route in the table needs a check here"
    for route, (other_gets_nothing, own_gets_it) in checks.items():
        assert other_gets_nothing(), route
        assert own_gets_it(sparkhill), route
