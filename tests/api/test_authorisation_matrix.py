"""The authorisation matrix, generated from the permission table: every route of the API
with every kind of token (and none, and a dead one), held to ``PERMISSIONS``.

The probe's matrix was 23 operations x 11 token kinds; this one is every route in the
table x the seven kinds of token there are, plus no token, an unknown token, a revoked
and an expired one. One server, all calls: about 250 requests.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import Engine, update

from ehx.api import AgencyCredentials
from ehx.api.permissions import AGENCIES, HOLDERS, PERMISSIONS
from ehx.database import agency_credentials
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
