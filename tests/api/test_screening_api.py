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
from tests.flows import (
    MARYAMS_SCHOOL,
    YUSUFS_SCHOOL,
    audit_entries,
    directory_loaded,
    khans_on_file,
)
from tests.people import registered
from tests.serving import auth

pytestmark = pytest.mark.kafka

Client = tuple[httpx.Client, AgencyCredentials]


def test_each_holder_reads_its_own_view_and_every_read_is_recorded(
    client: Client, sqlite_engine: Engine, kafka_bootstrap: str
) -> None:
    http, credentials = client
    family = khans_on_file(sqlite_engine)
    directory_loaded(sqlite_engine)
    school = credentials.issue(Recipient.SCHOOLS, "Sparkhill MIS", organisation=YUSUFS_SCHOOL)
    hub = credentials.issue(Recipient.EARLY_HELP, "early help hub")
    reader = registered(sqlite_engine, f"dsl-{uuid.uuid4().hex[:6]}", f"school:{YUSUFS_SCHOOL}")
    registered(sqlite_engine, "ew-1", "early_help")

    seen = http.get(
        f"/v1/families/{family}/timeline", params={"reader": reader}, headers=auth(school)
    )
    assert seen.status_code == 200
    [entry] = seen.json()
    assert entry["basis"]["outcome"] == "notify" and "Operation Encompass" in entry["why"]
    # Its own pupil only: Maryam, at another school, is that school's to read about.
    assert [(p["role"], p["name"]) for p in entry["people"]] == [("child_present", "Yusuf Khan")]
    assert "summary" not in entry["fields"] and entry["details"] == {}

    indicators = http.get(
        f"/v1/families/{family}/timeline", params={"reader": "ew-1"}, headers=auth(hub)
    )
    assert indicators.json() and all(e["people"][0]["name"] is None for e in indicators.json())

    [read] = asyncio.run(audit_entries(kafka_bootstrap, reader))
    assert read["action"] == "timeline.read" and read["agency"] == f"school:{YUSUFS_SCHOOL}"
    assert read["role"] == "schools_practitioner"
    assert read["event_ids"] == [entry["event_id"]] and read["family_id"] == family
    assert "Khan" not in json.dumps(read)  # ids, never names


def test_a_long_timeline_comes_a_page_at_a_time_and_only_the_page_is_recorded_as_read(
    client: Client, sqlite_engine: Engine, kafka_bootstrap: str
) -> None:
    http, credentials = client
    family = khans_on_file(sqlite_engine)
    hub = credentials.issue(Recipient.EARLY_HELP, "early help hub")
    url = f"/v1/families/{family}/timeline"
    registered(sqlite_engine, "ew-2", "early_help")
    whole = http.get(url, params={"reader": "ew-2"}, headers=auth(hub)).json()
    assert len(whole) >= 3
    reader = registered(sqlite_engine, f"ew-{uuid.uuid4().hex[:6]}", "early_help")
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
    registered(sqlite_engine, "sw-4", "mash")
    registered(sqlite_engine, "sw-5", "mash")
    [alert] = http.get("/v1/alerts", headers=auth(mash)).json()
    assert alert["kind"] == "think_family" and alert["level"] == "additional_needs"
    screened = http.post(
        f"/v1/alerts/{alert['alert_id']}/screen", json={"by": "sw-4"}, headers=auth(mash)
    )
    assert screened.json()["status"] == "in_screening"
    decided = http.post(
        f"/v1/alerts/{alert['alert_id']}/decision",
        json={
            "by": "sw-4",
            "outcome": "early_help_team_around_the_family",
            "rationale": "Mother agrees to a team around the family.",
            "lead_professional": "J. Patel, Sparkhill early help",
        },
        headers=auth(mash),
    )
    assert decided.json()["decided_by"] == "sw-4" and decided.json()["status"] == "decided"
    again = http.post(
        f"/v1/alerts/{alert['alert_id']}/decision",
        json={"by": "sw-5", "outcome": "s47_enquiry", "rationale": "A second look, too late."},
        headers=auth(mash),
    )
    assert again.status_code == 409
    # The police, whose incident was behind the case, hear what was decided and who leads.
    police = credentials.issue(Recipient.POLICE, "West Midlands Police")
    [told] = http.get("/v1/outcomes", headers=auth(police)).json()
    assert (told["outcome"], told["family_id"]) == (
        "early_help_team_around_the_family",
        alert["family_id"],
    )
    assert told["lead_professional"] == "J. Patel, Sparkhill early help" and told["records"]
    # Outcomes are for the agencies that referred, not the hubs that decided.
    assert http.get("/v1/outcomes", headers=auth(mash)).status_code == 403
    both = http.get("/v1/encompass", headers=auth(mash)).json()
    assert {n["school_urn"] for n in both} == {YUSUFS_SCHOOL, MARYAMS_SCHOOL}


def test_each_school_sees_and_acknowledges_only_its_own_pupils_notification(
    client: Client, sqlite_engine: Engine, kafka_bootstrap: str
) -> None:
    """Issue 30's failure: a school's token listed another school's Operation Encompass
    notification and acknowledged it (200), so the MASH saw it met by the wrong school."""
    http, credentials = client
    family = khans_on_file(sqlite_engine)
    directory_loaded(sqlite_engine)
    sparkhill = credentials.issue(Recipient.SCHOOLS, "Sparkhill", organisation=YUSUFS_SCHOOL)
    ashfield = credentials.issue(Recipient.SCHOOLS, "Ashfield", organisation=MARYAMS_SCHOOL)
    key_adult = registered(sqlite_engine, f"ka-{uuid.uuid4().hex[:6]}", f"school:{YUSUFS_SCHOOL}")
    registered(sqlite_engine, "ka-1", f"school:{YUSUFS_SCHOOL}")
    dsls = {
        YUSUFS_SCHOOL: registered(sqlite_engine, "dsl-s", f"school:{YUSUFS_SCHOOL}"),
        MARYAMS_SCHOOL: registered(sqlite_engine, "dsl-a", f"school:{MARYAMS_SCHOOL}"),
    }
    [own] = http.get("/v1/encompass", params={"reader": key_adult}, headers=auth(sparkhill)).json()
    # The list is a read of which children are at which school: on the ledger first.
    [read] = asyncio.run(audit_entries(kafka_bootstrap, key_adult))
    assert read["action"] == "encompass.read" and read["subject_ids"] == [own["person_id"]]
    [theirs] = http.get("/v1/encompass", headers=auth(ashfield)).json()
    assert (own["school_urn"], theirs["school_urn"]) == (YUSUFS_SCHOOL, MARYAMS_SCHOOL)
    wrong = http.post(
        f"/v1/encompass/{theirs['notification_id']}/acknowledge",
        json={"by": "ka-1"},
        headers=auth(sparkhill),
    )
    assert wrong.status_code == 404  # not found for this school: never 200
    right = http.post(
        f"/v1/encompass/{own['notification_id']}/acknowledge",
        json={"by": "ka-1"},
        headers=auth(sparkhill),
    )
    assert right.status_code == 200
    [still_due] = http.get("/v1/encompass", headers=auth(ashfield)).json()
    assert still_due["acknowledged_at"] is None
    # Each reads the family's timeline about its own pupil alone.
    names = {
        school: [
            p["name"]
            for e in http.get(
                f"/v1/families/{family}/timeline",
                params={"reader": dsls[school]},
                headers=auth(token),
            ).json()
            for p in e["people"]
        ]
        for school, token in ((YUSUFS_SCHOOL, sparkhill), (MARYAMS_SCHOOL, ashfield))
    }
    assert names == {YUSUFS_SCHOOL: ["Yusuf Khan"], MARYAMS_SCHOOL: ["Maryam Khan"]}
    # A school token issued before organisations names no school: it is told so.
    legacy = credentials.issue(Recipient.SCHOOLS, "old MIS")
    refused = http.get("/v1/encompass", headers=auth(legacy))
    assert refused.status_code == 403 and "--org URN" in refused.json()["detail"]
