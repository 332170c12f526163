"""Consent over HTTP: recorded in the token holder's name, refused with reasons, previewed."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine

from ehx.api import AgencyCredentials
from ehx.broker.topics import Topic
from ehx.consent import ConsentRecord, load_policy
from ehx.consent.engine import ConsentEngine
from ehx.consent.memory import MemoryKeyVault
from ehx.consent.store import ConsentStore
from ehx.schemas import Agency
from ehx.schemas.vocabulary import Recipient
from tests.consent.fakes import AMINA, linked_khans
from tests.flows import khans_on_file
from tests.helpers import read_json
from tests.people import registered
from tests.records import NOW
from tests.serving import auth

pytestmark = pytest.mark.kafka

Client = tuple[httpx.Client, AgencyCredentials]
#: Published to the session broker's ehx.consent, where the integration tests' consent
#: services will read it: about a family no test links, so it changes nobody's views.
GRANT = {
    "subject_kind": "family",
    "subject_id": "f99999999",
    "given_by": "p99999999",
    "giver": "parent",
    "recorded_by": "ew-0042",
    "recipients": ["early_help", "schools"],
    "categories": ["domestic_violence_abuse", "poor_school_attendance"],
    "purpose": "early_help_assessment",
    "evidence": "EHA form 2211",
}


async def consent_on_topic(bootstrap: str, consent_id: str) -> dict[str, Any]:
    [(key, record)] = await read_json(
        bootstrap, Topic.CONSENT.value, lambda b: b.get("consent_id") == consent_id, count=1
    )
    assert key == consent_id.encode()  # keyed by record id: compaction keeps its latest state
    return record


def test_consent_is_recorded_in_the_token_holders_name(
    client: Client, kafka_bootstrap: str, sqlite_engine: Engine
) -> None:
    http, credentials = client
    family = khans_on_file(sqlite_engine)
    token = credentials.issue(Recipient.EARLY_HELP, "early help hub case system")
    khans = GRANT | {"subject_id": family, "given_by": AMINA}
    # Recorded by someone the exchange knows as one of the early help hub's people.
    stranger = http.post("/v1/consents", json=khans, headers=auth(token))
    assert stranger.status_code == 403
    assert "not a live account of early_help" in stranger.json()["detail"]
    registered(sqlite_engine, "ew-0042", "early_help")  # GRANT's recorder
    answer = http.post("/v1/consents", json=khans, headers=auth(token))
    assert answer.status_code == 202, answer.text
    consent_id = answer.json()["consent_id"]
    record = asyncio.run(consent_on_topic(kafka_bootstrap, consent_id))
    assert record["recorded_by_agency"] == "early_help" and record["state"] == "granted"
    # The body cannot claim another agency.
    forged = http.post(
        "/v1/consents", json=khans | {"recorded_by_agency": "mash"}, headers=auth(token)
    )
    assert forged.status_code == 422


@pytest.mark.parametrize(
    ("change", "status", "reason"),
    [
        ({"giver": "young_person"}, 422, "a young person consents for their own information"),
        ({"recipients": []}, 422, "recipients"),
        ({"categories": ["gossip"]}, 422, "categories"),
        ({"state": "withdrawn"}, 422, "withdraw with POST"),
    ],
    ids=["young person for a family", "no recipients", "unknown category", "withdrawn directly"],
)
def test_a_bad_consent_is_refused_with_its_reason(
    client: Client, change: dict[str, object], status: int, reason: str
) -> None:
    http, credentials = client
    token = credentials.issue(Agency.SCHOOLS, "school MIS")
    answer = http.post("/v1/consents", json=GRANT | change, headers=auth(token))
    assert answer.status_code == status
    assert reason in json.dumps(answer.json())


def test_without_a_token_nothing_is_recorded(client: Client) -> None:
    http, _ = client
    assert http.post("/v1/consents", json=GRANT).status_code == 401
    assert http.post("/v1/consents", json=GRANT, headers=auth("ehx_nope")).status_code == 401


def test_withdrawing_a_consent_nobody_recorded_is_a_404(
    client: Client, sqlite_engine: Engine
) -> None:
    http, credentials = client
    registered(sqlite_engine, "sw-1", "mash")
    token = credentials.issue(Recipient.MASH, "MASH")
    answer = http.post(
        f"/v1/consents/{uuid.uuid4()}/withdraw", json={"withdrawn_by": "sw-1"}, headers=auth(token)
    )
    assert answer.status_code == 404


def test_consent_on_record_is_shown_and_the_preview_says_what_a_school_would_see(
    client: Client, sqlite_engine: Engine
) -> None:
    http, credentials = client
    store = ConsentStore(sqlite_engine)
    engine = ConsentEngine(load_policy(), MemoryKeyVault(), store.load_registry(), store)
    store.save(engine.on_events(linked_khans(), NOW))
    record = ConsentRecord.model_validate(
        GRANT
        | {
            "subject_id": "f00000001",
            "given_by": "p00000001",
            "state": "granted",
            "recorded_by_agency": "early_help",
            "valid_from": NOW.isoformat(),
            "recorded_at": NOW.isoformat(),
        }
    )
    store.save_record(record)
    token = credentials.issue(Recipient.EARLY_HELP, "early help hub")
    shown = http.get("/v1/subjects/f00000001/consents", headers=auth(token)).json()
    assert [c["consent_id"] for c in shown] == [str(record.consent_id)]
    assert shown[0]["in_force"] is True

    lines = http.get(
        "/v1/families/f00000001/preview", params={"as": "schools"}, headers=auth(token)
    )
    assert lines.status_code == 200
    incident = next(
        line
        for line in lines.json()
        if line["event_type"] == "police.incident" and line["outcome"] != "deny"
    )
    # Consent covers domestic abuse, not crime: the incident (both) reaches the school only
    # as Operation Encompass, with no narrative.
    assert incident["outcome"] == "notify"
    assert "summary" not in incident["fields"]
    assert all("child_present" in person for person in incident["people"])


def test_a_seven_year_old_does_not_consent_for_herself_nor_a_mother_for_a_man(
    client: Client, sqlite_engine: Engine
) -> None:
    """Issue 31, sixth finding: both were accepted, and schools then received her records."""
    http, credentials = client
    family = khans_on_file(sqlite_engine)
    token = credentials.issue(Recipient.EARLY_HELP, "early help hub case system")
    registered(sqlite_engine, "ew-0042", "early_help")
    events = ConsentStore(sqlite_engine).family_events({family})
    people = {s.demographics.given_name: s.person_id for e in events for s in e.subjects}
    maryam, imran = people["Maryam"], people["Imran"]
    herself = GRANT | {
        "subject_kind": "person",
        "subject_id": maryam,
        "given_by": maryam,
        "giver": "young_person",
        "competence": "assessed at school",
    }
    refused = http.post("/v1/consents", json=herself, headers=auth(token))
    assert refused.status_code == 403
    assert "from 12: " in refused.json()["detail"]
    assert "a parent or carer consents for them" in refused.json()["detail"]
    for_him = GRANT | {"subject_kind": "person", "subject_id": imran, "given_by": AMINA}
    refused = http.post("/v1/consents", json=for_him, headers=auth(token))
    assert refused.status_code == 403 and "never for another adult" in refused.json()["detail"]
