"""Findings 10, 11, 17 and 20 of the security probe, reproduced: bodies built to hurt the
server get a clean refusal with a reason, never a 500, a hang or an echo."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from urllib.parse import urlsplit

import httpx
import pytest
from fastapi import HTTPException
from starlette.requests import Request

from ehx.api import AgencyCredentials
from ehx.api.ingest import BODY_IDLE_SECONDS, MAX_BODY_BYTES, MAX_RECORDS, read_body
from ehx.schemas.vocabulary import Recipient
from tests.helpers import EXAMPLES
from tests.serving import auth

pytestmark = pytest.mark.kafka

Client = tuple[httpx.Client, AgencyCredentials]


def post(
    client: Client, agency: Recipient, body: bytes | Iterator[bytes], kind: str
) -> httpx.Response:
    http, credentials = client
    token = credentials.issue(agency, f"{agency.value} system")
    return http.post(
        f"/v1/agencies/{agency.value}/records",
        content=body,
        headers={**auth(token), "content-type": kind},
    )


def test_json_nested_100k_deep_is_refused_not_a_500(client: Client) -> None:
    deep = b'{"a":' * 100_000 + b"1" + b"}" * 100_000
    answer = post(client, Recipient.POLICE, deep, "application/json")
    assert answer.status_code == 422
    assert "not valid JSON" in answer.json()["refused"][0]["reason"]


def test_json_nested_past_any_agency_format_is_refused_with_the_reason(client: Client) -> None:
    record = json.loads((EXAMPLES / "police.jsonl").read_bytes().splitlines()[0])
    node: dict[str, object] = {}
    record["location"]["extra"] = node
    for _ in range(100):
        node["x"] = node = {}
    answer = post(client, Recipient.POLICE, json.dumps(record).encode(), "application/json")
    assert answer.status_code == 422
    assert "nested more than 64 levels deep" in answer.json()["refused"][0]["reason"]


def test_more_records_than_a_request_takes_is_a_413_before_any_is_published(
    client: Client,
) -> None:
    flood = b"{}\n" * 50_000
    answer = post(client, Recipient.POLICE, flood, "application/x-ndjson")
    assert answer.status_code == 413
    assert f"at most {MAX_RECORDS} records" in answer.json()["detail"]


def test_a_pretty_printed_bundle_over_the_record_limit_is_one_refusal(client: Client) -> None:
    bundle = json.loads((EXAMPLES / "health-amina-ed.json").read_bytes())
    bundle["entry"][1]["resource"]["reasonCode"] = [{"text": "x" * 80} for _ in range(15_000)]
    pretty = json.dumps(bundle, indent=2).encode()
    assert len(pretty) > 1024 * 1024
    answer = post(client, Recipient.HEALTH, pretty, "application/fhir+json")
    assert answer.status_code == 422
    [refusal] = answer.json()["refused"]
    assert "one JSON document over the" in refusal["reason"]


def test_a_bundle_of_ten_thousand_entries_is_refused_quickly(client: Client) -> None:
    bundle = json.loads((EXAMPLES / "health-amina-ed.json").read_bytes())
    bundle["entry"] += [{"resource": {"resourceType": "Basic"}}] * 10_000  # 0.4 MB
    body = json.dumps(bundle).encode()
    started = time.monotonic()
    answer = post(client, Recipient.HEALTH, body, "application/fhir+ndjson")
    assert answer.status_code == 422
    assert "at most 200 entries" in answer.json()["refused"][0]["reason"]
    assert time.monotonic() - started < 5


def test_a_chunked_body_is_refused_with_a_413(client: Client) -> None:
    block = b'{"a": "' + b"x" * (1024 * 1024 - 10) + b'"}\n'
    answer = post(client, Recipient.POLICE, iter([block] * 80), "application/x-ndjson")
    assert answer.status_code == 413
    assert answer.json()["detail"] == f"send at most {MAX_BODY_BYTES} bytes per request"


async def test_a_chunked_body_stops_being_read_once_it_passes_the_limit() -> None:
    """What the probe saw: 1 GB chunked took the server from 137 MB to 2.1 GB, read
    whole before the check. Now no more is read than the limit and one chunk."""
    chunk = b"x" * (1024 * 1024)
    pulled = 0

    async def receive() -> dict[str, object]:
        nonlocal pulled
        pulled += 1
        return {"type": "http.request", "body": chunk, "more_body": pulled < 1024}

    request = Request({"type": "http", "method": "POST", "headers": []}, receive)
    with pytest.raises(HTTPException) as refused:
        await read_body(request)
    assert refused.value.status_code == 413
    assert pulled == MAX_BODY_BYTES // len(chunk) + 1


def test_a_schools_file_without_its_header_row_does_not_get_the_first_pupil_back(
    client: Client,
) -> None:
    rows = (EXAMPLES / "schools.csv").read_text().splitlines()[1:]
    answer = post(client, Recipient.SCHOOLS, "\n".join(rows).encode(), "text/csv")
    assert answer.status_code == 422
    reason = answer.json()["refused"][0]["reason"]
    assert "the first line is not the header row" in reason
    first_pupil = rows[0].split(",")
    assert not any(cell and cell in answer.text for cell in first_pupil[2:5])


def test_a_content_length_longer_than_the_body_is_given_up_on_not_held(client: Client) -> None:
    http, credentials = client
    token = credentials.issue(Recipient.POLICE, "police system")
    url = urlsplit(str(http.base_url))
    request = (
        "POST /v1/agencies/police/records HTTP/1.1\r\n"
        f"Host: {url.hostname}\r\nAuthorization: Bearer {token}\r\n"
        "Content-Type: application/x-ndjson\r\nContent-Length: 100\r\n\r\n{"
    ).encode()
    started = time.monotonic()
    with socket.create_connection((url.hostname or "", url.port or 80), timeout=60) as raw:
        raw.sendall(request)
        answer = raw.recv(4096).decode()
    assert answer.startswith("HTTP/1.1 408")
    assert time.monotonic() - started < BODY_IDLE_SECONDS + 5


def test_the_openapi_does_not_offer_content_length_as_a_parameter(client: Client) -> None:
    http, _ = client
    document = http.get("/openapi.json").json()
    operation = document["paths"]["/v1/agencies/{agency}/records"]["post"]
    names = {p["name"].lower() for p in operation.get("parameters", [])}
    assert "content-length" not in names
