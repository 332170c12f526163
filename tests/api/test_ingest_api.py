"""HTTP ingest: per-agency tokens, each content type, and refusals with their reasons.

The app talks to the session's real broker and a real database.
"""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine

from ehx.api import AgencyCredentials
from ehx.schemas import Agency, ExchangeError
from tests.flows import MARYAMS_SCHOOL, YUSUFS_SCHOOL, directory_loaded
from tests.helpers import EXAMPLES
from tests.serving import auth

pytestmark = pytest.mark.kafka


def test_police_ndjson_is_accepted_and_resending_it_publishes_nothing(
    client: tuple[httpx.Client, AgencyCredentials],
) -> None:
    http, credentials = client
    token = credentials.issue(Agency.POLICE, "WMP Niche")
    body = (EXAMPLES / "police.jsonl").read_bytes()
    headers = {**auth(token), "Content-Type": "application/x-ndjson"}
    first = http.post("/v1/agencies/police/records", content=body, headers=headers)
    assert first.status_code == 200
    assert first.json()["events_published"] == 2
    again = http.post("/v1/agencies/police/records", content=body, headers=headers)
    assert again.json()["duplicates"] == 2 and again.json()["events_published"] == 0


def test_a_fhir_bundle_and_a_csv_are_accepted_by_content_type(
    client: tuple[httpx.Client, AgencyCredentials],
) -> None:
    http, credentials = client
    health = credentials.issue(Agency.HEALTH, "UHB")
    response = http.post(
        "/v1/agencies/health/records",
        content=(EXAMPLES / "health-amina-ed.json").read_bytes(),
        headers={**auth(health), "Content-Type": "application/fhir+json"},
    )
    assert response.status_code == 200 and response.json()["accepted"] == 1
    schools = credentials.issue(Agency.SCHOOLS, "SIMS")
    response = http.post(
        "/v1/agencies/schools/records",
        content=(EXAMPLES / "schools.csv").read_bytes(),
        headers={**auth(schools), "Content-Type": "text/csv; charset=utf-8"},
    )
    assert response.status_code == 200 and response.json()["accepted"] == 4


def test_an_agency_token_cannot_submit_as_another_agency(
    client: tuple[httpx.Client, AgencyCredentials],
) -> None:
    http, credentials = client
    token = credentials.issue(Agency.HOUSING, "Northgate")
    response = http.post(
        "/v1/agencies/police/records",
        content=(EXAMPLES / "police.jsonl").read_bytes(),
        headers={**auth(token), "Content-Type": "application/x-ndjson"},
    )
    assert response.status_code == 403
    assert "may submit only as housing" in response.json()["detail"]


def test_no_token_or_a_revoked_token_is_unauthorised(
    client: tuple[httpx.Client, AgencyCredentials],
) -> None:
    http, credentials = client
    url = "/v1/agencies/police/records"
    assert http.post(url, content=b"{}").status_code == 401
    token = credentials.issue(Agency.POLICE, "old")
    credentials.revoke(token)
    assert http.post(url, content=b"{}", headers=auth(token)).status_code == 401


def test_mixed_good_and_bad_records_answer_207_listing_each_refusal(
    client: tuple[httpx.Client, AgencyCredentials],
) -> None:
    http, credentials = client
    token = credentials.issue(Agency.HOUSING, "Northgate")
    good, second = (EXAMPLES / "housing.jsonl").read_bytes().splitlines()
    bad = json.loads(second)
    bad["event_type"] = "flooding"
    bad["record_ref"] = "BCC-HSG-2026-99999"
    response = http.post(
        "/v1/agencies/housing/records",
        content=good + b"\n" + json.dumps(bad).encode() + b"\n",
        headers={**auth(token), "Content-Type": "application/x-ndjson"},
    )
    assert response.status_code == 207
    [refusal] = response.json()["refused"]
    assert refusal == {
        "source": "request",
        "position": "request:2",
        "field": "event_type",
        "reason": refusal["reason"],
    }
    assert "flooding" not in refusal["reason"]


def test_a_content_type_the_agency_does_not_send_is_refused(
    client: tuple[httpx.Client, AgencyCredentials],
) -> None:
    http, credentials = client
    token = credentials.issue(Agency.SCHOOLS, "SIMS")
    response = http.post(
        "/v1/agencies/schools/records",
        content=b"{}",
        headers={**auth(token), "Content-Type": "application/json"},
    )
    assert response.status_code == 415 and "text/csv" in response.json()["detail"]


def test_the_openapi_document_describes_the_ingest_endpoint(
    client: tuple[httpx.Client, AgencyCredentials], tmp_path: Path
) -> None:
    http, _ = client
    spec = http.get("/openapi.json").json()
    assert "/v1/agencies/{agency}/records" in spec["paths"]


def test_a_school_submits_only_as_its_own_urn(
    client: tuple[httpx.Client, AgencyCredentials], sqlite_engine: Engine
) -> None:
    """The Khans' schools file holds both children's rows; a school's token sends as that
    school: the other school's rows are refused, each with the reason."""
    http, credentials = client
    directory_loaded(sqlite_engine)
    sparkhill = credentials.issue(Agency.SCHOOLS, "Sparkhill MIS", organisation=YUSUFS_SCHOOL)
    response = http.post(
        "/v1/agencies/schools/records",
        content=(EXAMPLES / "schools.csv").read_bytes(),
        headers={**auth(sparkhill), "Content-Type": "text/csv"},
    )
    assert response.status_code == 207
    answer = response.json()
    assert answer["accepted"] == 2 and len(answer["refused"]) == 2
    assert all(
        r["reason"] == f"the record names organisation {MARYAMS_SCHOOL}, but it was sent as "
        f"{YUSUFS_SCHOOL}'s"
        for r in answer["refused"]
    )


def test_a_token_for_an_organisation_not_in_the_directory_cannot_be_issued(
    sqlite_engine: Engine,
) -> None:
    directory_loaded(sqlite_engine)
    credentials = AgencyCredentials(sqlite_engine)
    with pytest.raises(ExchangeError, match="no school 999999 in the directory"):
        credentials.issue(Agency.SCHOOLS, "unknown school", organisation="999999")
    with pytest.raises(ExchangeError, match="belongs to no organisation"):
        credentials.issue("auditor", "auditors", organisation="103512")
    assert credentials.listed() == []
