"""Timelines and alerts over HTTP: each holder sees its own view, and every read is recorded."""

from __future__ import annotations

import asyncio
import json
import uuid

import httpx
import pytest
from sqlalchemy import Engine

from ehx.api import AgencyCredentials
from ehx.schemas.vocabulary import Recipient
from tests.flows import audit_entries, khans_on_file
from tests.serving import auth

pytestmark = pytest.mark.kafka

Client = tuple[httpx.Client, AgencyCredentials]


def test_each_holder_reads_its_own_view_and_every_read_is_recorded(
    client: Client, sqlite_engine: Engine, kafka_bootstrap: str
) -> None:
    http, credentials = client
    family = khans_on_file(sqlite_engine)
    school = credentials.issue(Recipient.SCHOOLS, "school MIS")
    hub = credentials.issue(Recipient.EARLY_HELP, "early help hub")
    reader = f"dsl-{uuid.uuid4().hex[:6]}"

    seen = http.get(
        f"/v1/families/{family}/timeline", params={"reader": reader}, headers=auth(school)
    )
    assert seen.status_code == 200
    [entry] = seen.json()
    assert entry["basis"]["outcome"] == "notify" and "Operation Encompass" in entry["why"]
    assert {p["role"] for p in entry["people"]} == {"child_present"}
    assert all(p["name"].endswith("Khan") for p in entry["people"])
    assert "summary" not in entry["fields"] and entry["details"] == {}

    indicators = http.get(
        f"/v1/families/{family}/timeline", params={"reader": "ew-1"}, headers=auth(hub)
    )
    assert indicators.json() and all(e["people"][0]["name"] is None for e in indicators.json())

    [read] = asyncio.run(audit_entries(kafka_bootstrap, reader))
    assert read["action"] == "timeline.read" and read["agency"] == "schools"
    assert read["event_ids"] == [entry["event_id"]] and read["family_id"] == family
    assert "Khan" not in json.dumps(read)  # ids, never names


def test_a_long_timeline_comes_a_page_at_a_time_and_only_the_page_is_recorded_as_read(
    client: Client, sqlite_engine: Engine, kafka_bootstrap: str
) -> None:
    http, credentials = client
    family = khans_on_file(sqlite_engine)
    hub = credentials.issue(Recipient.EARLY_HELP, "early help hub")
    url = f"/v1/families/{family}/timeline"
    whole = http.get(url, params={"reader": "ew-2"}, headers=auth(hub)).json()
    assert len(whole) >= 3
    reader = f"ew-{uuid.uuid4().hex[:6]}"
    latest = http.get(url, params={"reader": reader, "limit": 2}, headers=auth(hub))
    assert [e["event_id"] for e in latest.json()] == [e["event_id"] for e in whole[-2:]]
    earlier = latest.links["prev"]["url"]
    assert f"before={whole[-2]['event_id']}" in earlier and "limit=2" in earlier
    back = http.get(earlier, headers=auth(hub))
    assert [e["event_id"] for e in back.json()] == [e["event_id"] for e in whole[-4:-2]]
    [read, *_] = asyncio.run(audit_entries(kafka_bootstrap, reader))
    assert read["event_ids"] == [e["event_id"] for e in whole[-2:]]  # what was shown
    gone = http.get(url, params={"reader": reader, "limit": 2, "before": "x"}, headers=auth(hub))
    assert gone.status_code == 404 and "no entry x" in gone.json()["detail"]


def test_alerts_are_for_the_screening_team(client: Client, sqlite_engine: Engine) -> None:
    http, credentials = client
    khans_on_file(sqlite_engine)
    assert (
        http.get("/v1/alerts", headers=auth(credentials.issue(Recipient.HOUSING, "h"))).status_code
        == 403
    )
    mash = credentials.issue(Recipient.MASH, "MASH")
    [alert] = http.get("/v1/alerts", headers=auth(mash)).json()
    assert alert["kind"] == "think_family" and alert["level"] == "additional_needs"
    screened = http.post(
        f"/v1/alerts/{alert['alert_id']}/screen", json={"by": "sw-4"}, headers=auth(mash)
    )
    assert screened.json()["status"] == "in_screening"
    decided = http.post(
        f"/v1/alerts/{alert['alert_id']}/decision",
        json={"by": "sw-4", "outcome": "early_help_team_around_the_family"},
        headers=auth(mash),
    )
    assert decided.json()["decided_by"] == "sw-4" and decided.json()["status"] == "decided"
    again = http.post(
        f"/v1/alerts/{alert['alert_id']}/decision",
        json={"by": "sw-5", "outcome": "s47_enquiry"},
        headers=auth(mash),
    )
    assert again.status_code == 409
    school = credentials.issue(Recipient.SCHOOLS, "school")
    notices = http.get("/v1/encompass", headers=auth(school)).json()
    assert len(notices) == 2
    ack = http.post(
        f"/v1/encompass/{notices[0]['notification_id']}/acknowledge",
        json={"by": "ka-1"},
        headers=auth(school),
    )
    assert ack.status_code == 200
