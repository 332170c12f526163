"""Findings 16, 17 and 18 of the security probe, reproduced: what every answer carries,
and what no refusal may carry."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import Engine

from ehx.api import AgencyCredentials
from ehx.schemas.vocabulary import Recipient
from tests.serving import auth

pytestmark = pytest.mark.kafka

Client = tuple[httpx.Client, AgencyCredentials]
SECRET = "Mrs Khan told me about the knife on 3 November"


def test_a_validation_refusal_names_the_field_and_never_echoes_the_value(
    client: Client,
) -> None:
    http, credentials = client
    token = credentials.issue(Recipient.EARLY_HELP, "early help hub")
    bad = {
        "subject_kind": "family",
        "subject_id": "f00000001",
        "giver": "parent",
        "recorded_by": "ew-1",
        "recipients": ["schools"],
        "categories": ["domestic_violence_abuse"],
        "purpose": "early_help_assessment",
        "evidence": SECRET * 20,  # over the 500 characters allowed
    }
    answer = http.post("/v1/consents", json=bad, headers=auth(token))
    assert answer.status_code == 422
    [error] = answer.json()["detail"]
    assert error["loc"] == ["body", "evidence"] and "500" in error["msg"]
    assert "Khan" not in answer.text and "input" not in error


@pytest.mark.parametrize("empty", ["person_id", "family_id", "asserted_by"])
def test_a_harm_assertion_with_an_empty_id_is_a_422_not_a_500(client: Client, empty: str) -> None:
    http, credentials = client
    token = credentials.issue(Recipient.POLICE, "police")
    body = {"person_id": "p1", "family_id": "f1", "asserted_by": "pc-1", "reason": SECRET}
    answer = http.post("/v1/harm-assertions", json=body | {empty: ""}, headers=auth(token))
    assert answer.status_code == 422
    assert answer.json()["detail"][0]["loc"] == ["body", empty]
    assert "Khan" not in answer.text


def test_every_answer_carries_the_security_headers_and_personal_data_is_not_cached(
    client: Client, sqlite_engine: Engine
) -> None:
    http, credentials = client
    token = credentials.issue(Recipient.SCHOOLS, "school MIS")
    for answer in (
        http.get("/v1/families/f00000001/timeline", headers=auth(token)),
        http.get("/login"),
        http.get("/v1/alerts"),  # a refusal too
    ):
        assert answer.headers["x-content-type-options"] == "nosniff"
        assert answer.headers["x-frame-options"] == "DENY"
        assert answer.headers["referrer-policy"] == "no-referrer"
        assert "frame-ancestors 'none'" in answer.headers["content-security-policy"]
        assert answer.headers["cache-control"] == "no-store"
    stylesheet = http.get("/static/console.css")
    assert stylesheet.status_code == 200 and "no-store" not in stylesheet.headers.get(
        "cache-control", ""
    )


def test_a_reader_or_purpose_longer_than_a_name_is_refused(client: Client) -> None:
    # Finding 9: 7 KB were accepted into the ledger as a reader's name.
    http, credentials = client
    token = credentials.issue(Recipient.SCHOOLS, "school MIS")
    url = "/v1/families/f00000001/timeline"
    for params in ({"reader": "x" * 7_000}, {"reader": ""}, {"reader": "d", "purpose": "p" * 300}):
        answer = http.get(url, params=params, headers=auth(token))
        assert answer.status_code == 422, params


def test_a_number_is_not_taken_for_a_date_nor_zero_for_false(client: Client) -> None:
    """Finding 20: the fuzzer's ``to=-3047580956`` was read as a date in 1873 and
    ``same_person: 0`` as false. The schema says ISO 8601 and a boolean: so does the
    server."""
    from ehx.organisations.people import AUDITOR

    http, credentials = client
    auditor = credentials.issue(AUDITOR, "auditors")
    answer = http.get(
        "/v1/audit/overrides", params={"by": "dpo-1", "to": "-3047580956"}, headers=auth(auditor)
    )
    assert answer.status_code == 422
    assert answer.json()["detail"][0]["loc"] == ["query", "to"]
    assert "ISO 8601" in answer.json()["detail"][0]["msg"]
    mash = credentials.issue(Recipient.MASH, "MASH")
    answer = http.post(
        "/v1/links/review/r1",
        json={"same_person": 0, "by": "sw-1", "reason": "checked the school roll"},
        headers=auth(mash),
    )
    assert answer.status_code == 422
    assert answer.json()["detail"][0]["loc"] == ["body", "same_person"]
