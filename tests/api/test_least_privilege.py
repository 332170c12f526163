"""Findings 1 to 5 of the security probe, reproduced: each now refused, or recorded.

1. Any agency's token recorded consent naming itself as recipient, unchecked.
2. Any agency's token withdrew another agency's consent, and the ledger did not name it.
3. A housing token previewed the MASH's view of any family and read every consent with
   its evidence, and none of those reads reached the ledger.
4. The early help hub's token read who a person is across agencies (names, dates of
   birth, NHS numbers, roles) through the link routes, unaudited.
5. The early help hub closed the MASH's significant-harm alert as no further action.
"""

from __future__ import annotations

import asyncio
import uuid

import httpx
import pytest
from sqlalchemy import Engine

from ehx.api import AgencyCredentials
from ehx.broker.topics import Topic
from ehx.consent import ConsentRecord, load_policy
from ehx.consent.auditing import change_record
from ehx.consent.engine import ConsentEngine
from ehx.consent.memory import MemoryKeyVault
from ehx.consent.store import ConsentStore
from ehx.linker.service import Linker
from ehx.linker.store import LinkStore
from ehx.schemas import Agency
from ehx.schemas.vocabulary import Recipient
from tests.consent.fakes import AMINA, FAMILY, KHAN_FILES, KHANS, family_consent
from tests.flows import (
    ANDERTON,
    MARYAMS_SCHOOL,
    OLD_LANDLORD,
    YUSUFS_SCHOOL,
    audit_entries,
    directory_loaded,
    khans_on_file,
)
from tests.helpers import read_json
from tests.people import registered
from tests.records import NOW, events
from tests.serving import auth

pytestmark = pytest.mark.kafka

Client = tuple[httpx.Client, AgencyCredentials]


def _reader() -> str:
    return f"p-{uuid.uuid4().hex[:8]}"


def test_an_agency_previews_only_its_own_view_and_every_preview_is_recorded(
    client: Client, sqlite_engine: Engine, kafka_bootstrap: str
) -> None:
    http, credentials = client
    family = khans_on_file(sqlite_engine, high_risk=True)
    directory_loaded(sqlite_engine)
    housing = credentials.issue(Recipient.HOUSING, "housing system", organisation=OLD_LANDLORD)
    url = f"/v1/families/{family}/preview"

    refused = http.get(url, params={"as": "mash"}, headers=auth(housing))
    assert refused.status_code == 403
    assert "the MASH and the early help hub may preview" in refused.json()["detail"]

    reader = registered(sqlite_engine, _reader(), f"housing:{OLD_LANDLORD}")
    own = http.get(url, params={"as": "housing", "reader": reader}, headers=auth(housing))
    assert own.status_code == 200
    mash = credentials.issue(Recipient.MASH, "mash")
    assert http.get(url, params={"as": "schools"}, headers=auth(mash)).status_code == 200
    [read] = asyncio.run(audit_entries(kafka_bootstrap, reader))
    assert read["action"] == "preview.read" and read["family_id"] == family
    # Recorded as who they are: a practitioner of that landlord.
    assert read["agency"] == f"housing:{OLD_LANDLORD}" and read["role"] == "housing_practitioner"


def test_consents_are_shown_to_their_keepers_and_their_recorder_and_each_read_is_recorded(
    client: Client, sqlite_engine: Engine, kafka_bootstrap: str
) -> None:
    http, credentials = client
    khans_on_file(sqlite_engine)
    directory_loaded(sqlite_engine)
    ConsentStore(sqlite_engine).save_record(
        family_consent((Recipient.EARLY_HELP, Recipient.SCHOOLS))
    )
    url = f"/v1/subjects/{FAMILY}/consents"
    housing_reader = registered(sqlite_engine, _reader(), f"housing:{OLD_LANDLORD}")
    hub_reader = registered(sqlite_engine, _reader(), "early_help")
    housing = credentials.issue(Recipient.HOUSING, "housing system", organisation=OLD_LANDLORD)
    hub = credentials.issue(Recipient.EARLY_HELP, "early help hub")

    # Housing recorded none of them: it sees none, and its look is on the ledger anyway.
    assert http.get(url, params={"reader": housing_reader}, headers=auth(housing)).json() == []
    [shown] = http.get(url, params={"reader": hub_reader}, headers=auth(hub)).json()
    assert shown["recorded_by"] == "ew-0042"
    for reader in (housing_reader, hub_reader):
        [read] = asyncio.run(audit_entries(kafka_bootstrap, reader))
        assert read["action"] == "consents.read" and read["subject_ids"] == [FAMILY]


def test_who_a_person_is_across_agencies_is_the_mash_s_to_read_and_is_recorded(
    client: Client, sqlite_engine: Engine, kafka_bootstrap: str
) -> None:
    http, credentials = client
    linker = Linker.open(LinkStore(sqlite_engine))
    amina, family = "", ""
    for agency, name in KHAN_FILES:
        for event in events(agency, name):
            linked, made = linker.link(event)
            linker.store.save(made, linker.identities.take_journal())
            for s in linked.subjects:
                if s.demographics.given_name == "Amina":
                    amina, family = s.person_id or "", s.family_id or ""
    hub = credentials.issue(Recipient.EARLY_HELP, "early help hub")
    mash = credentials.issue(Recipient.MASH, "mash")
    person = f"/v1/links/people/{amina}"
    for url in (person, f"/v1/links/families/{family}", "/v1/links/review"):
        refused = http.get(url, headers=auth(hub))
        assert refused.status_code == 403, url
        assert "MASH screening team" in refused.json()["detail"]

    reader = registered(sqlite_engine, _reader(), "mash")
    seen = http.get(person, params={"reader": reader}, headers=auth(mash))
    assert seen.status_code == 200
    [read] = asyncio.run(audit_entries(kafka_bootstrap, reader))
    assert read["action"] == "links.read" and read["subject_ids"] == [amina]
    assert read["role"] == "mash_screener"


def test_a_significant_harm_alert_is_decided_by_the_mash_not_the_early_help_hub(
    client: Client, sqlite_engine: Engine
) -> None:
    http, credentials = client
    family = khans_on_file(sqlite_engine, high_risk=True)
    hub = credentials.issue(Recipient.EARLY_HELP, "early help hub")
    mash = credentials.issue(Recipient.MASH, "mash")
    harm = f"significant_harm:{family}:1"
    nfa = {
        "by": registered(sqlite_engine, "ew-1", "early_help"),
        "outcome": "no_further_action",
        "rationale": "Seen at home; the family's needs are met by universal services.",
    }

    closed = http.post(f"/v1/alerts/{harm}/decision", json=nfa, headers=auth(hub))
    assert closed.status_code == 403
    assert "screened and decided by the MASH" in closed.json()["detail"]
    screening = http.post(f"/v1/alerts/{harm}/screen", json={"by": "ew-1"}, headers=auth(hub))
    assert screening.status_code == 403
    queue = http.get("/v1/alerts", headers=auth(mash)).json()
    assert {a["alert_id"]: a["status"] for a in queue}[harm] == "new"  # still the MASH's

    # One case for the family: no Think Family alert beside it for the hub to close.
    assert [a["kind"] for a in queue if a["family_id"] == family] == ["significant_harm"]
    # A MASH screener does not close it with no further action: a MASH manager does.
    screener = nfa | {"by": registered(sqlite_engine, "sw-1", "mash")}
    closing = http.post(f"/v1/alerts/{harm}/decision", json=screener, headers=auth(mash))
    assert closing.status_code == 403 and "only by a MASH manager" in closing.json()["detail"]
    manager = nfa | {"by": registered(sqlite_engine, "mgr-1", "manager")}
    decided = http.post(f"/v1/alerts/{harm}/decision", json=manager, headers=auth(mash))
    assert decided.status_code == 200 and decided.json()["decision"] == "no_further_action"
    assert decided.json()["decided_by"] == "mgr-1"


def _grant(family: str, **changes: object) -> dict[str, object]:
    return {
        "subject_kind": "family",
        "subject_id": family,
        "given_by": AMINA,
        "giver": "parent",
        "recorded_by": "hsg-7",
        "recipients": ["housing"],
        "categories": ["domestic_violence_abuse"],
        "purpose": "early_help_assessment",
        "evidence": "Tenancy file, signed consent form 12",
    } | changes


def test_consent_is_recorded_by_an_agency_working_with_the_family_with_giver_and_evidence(
    client: Client, sqlite_engine: Engine
) -> None:
    """Finding 1: any agency's token recorded a consent naming itself as recipient, with
    no evidence, no giver and no check against the family."""
    http, credentials = client
    store = ConsentStore(sqlite_engine)
    consent = ConsentEngine(load_policy(), MemoryKeyVault(), store.load_registry(), store)
    # Everything about the Khans but housing's: housing has never worked with them.
    store.save(consent.on_events([e for e in KHANS if e.source.agency is not Agency.HOUSING], NOW))
    housing = credentials.issue(Recipient.HOUSING, "housing system")
    police = credentials.issue(Recipient.POLICE, "police")
    url = "/v1/consents"

    stranger = http.post(url, json=_grant(FAMILY), headers=auth(housing))
    assert stranger.status_code == 403
    assert "housing has sent no record about this family" in stranger.json()["detail"]
    unknown = http.post(url, json=_grant("f99999999"), headers=auth(police))
    assert "holds no records about family f99999999" in unknown.json()["detail"]
    no_evidence = http.post(url, json=_grant(FAMILY, evidence=""), headers=auth(police))
    assert no_evidence.json()["detail"].startswith("evidence: say where")
    no_giver = http.post(url, json=_grant(FAMILY, given_by=None), headers=auth(police))
    assert "given_by" in no_giver.json()["detail"]
    outsider = http.post(url, json=_grant(FAMILY, given_by="p99999999"), headers=auth(police))
    assert "not in the records" in outsider.json()["detail"]
    assert {r.status_code for r in (unknown, no_evidence, no_giver, outsider)} == {403}

    # Recorded by a person the exchange knows as one of the police's.
    not_theirs = http.post(url, json=_grant(FAMILY), headers=auth(police))
    assert not_theirs.status_code == 403
    assert "not a live account of police" in not_theirs.json()["detail"]
    officer = registered(sqlite_engine, "pc-7", "police")
    mine = http.post(url, json=_grant(FAMILY, recorded_by=officer), headers=auth(police))
    assert mine.status_code == 202
    hub = credentials.issue(Recipient.EARLY_HELP, "early help hub")
    worker = registered(sqlite_engine, "ew-7", "early_help")
    ours = http.post(url, json=_grant(FAMILY, recorded_by=worker), headers=auth(hub))
    assert ours.status_code == 202


def test_a_consent_is_withdrawn_by_its_recorder_or_the_mash_and_the_ledger_names_who(
    client: Client, sqlite_engine: Engine, kafka_bootstrap: str
) -> None:
    """Finding 2: any agency's token withdrew another's consent (its keys destroyed for
    good), and the ledger filed it under the consent's recorder."""
    http, credentials = client
    record = family_consent((Recipient.SCHOOLS,))
    ConsentStore(sqlite_engine).save_record(record)
    url = f"/v1/consents/{record.consent_id}/withdraw"
    school = credentials.issue(Recipient.SCHOOLS, "school MIS")
    refused = http.post(url, json={"withdrawn_by": "dsl-1"}, headers=auth(school))
    assert refused.status_code == 403
    assert (
        "withdrawn by the organisation that recorded it (the early help hub), the MASH or "
        "the data protection officer" in (refused.json()["detail"])
    )
    mash = credentials.issue(Recipient.MASH, "mash")
    registered(sqlite_engine, "sw-9", "mash")
    assert http.post(url, json={"withdrawn_by": "sw-9"}, headers=auth(mash)).status_code == 202
    [(_, withdrawn)] = asyncio.run(
        read_json(
            kafka_bootstrap,
            Topic.CONSENT.value,
            lambda b: b.get("consent_id") == str(record.consent_id),
            count=1,
        )
    )
    assert withdrawn["state"] == "withdrawn" and withdrawn["withdrawn_by"] == "sw-9"
    assert withdrawn["withdrawn_by_agency"] == "mash"
    entry = change_record(ConsentRecord.model_validate(withdrawn))
    assert (entry.actor, entry.agency) == ("sw-9", "mash")  # who did it, not who recorded


def test_consent_is_recorded_and_withdrawn_by_an_organisation_working_with_the_family(
    client: Client, sqlite_engine: Engine
) -> None:
    """A school records consent for a family only if it has sent a record about it (it is
    the school of one of the children), and only that school or the MASH withdraws it."""
    http, credentials = client
    family = khans_on_file(sqlite_engine)
    directory_loaded(sqlite_engine)
    yusufs = credentials.issue(Recipient.SCHOOLS, "Sparkhill", organisation=YUSUFS_SCHOOL)
    maryams = credentials.issue(Recipient.SCHOOLS, "Ashfield", organisation=MARYAMS_SCHOOL)
    stranger = credentials.issue(Recipient.SCHOOLS, "Anderton", organisation=ANDERTON)
    # Naming housing, not schools: every test's Khans are f00000001 on one shared consent
    # topic, and a consent naming schools would change what other tests' schools see.
    body = _grant(family, recorded_by=registered(sqlite_engine, "dsl-1", f"school:{YUSUFS_SCHOOL}"))

    refused = http.post("/v1/consents", json=body, headers=auth(stranger))
    assert refused.status_code == 403
    assert f"schools {ANDERTON} has sent no record about this family" in refused.json()["detail"]
    assert http.post("/v1/consents", json=body, headers=auth(yusufs)).status_code == 202

    # As the consent service keeps it once it has applied it: recorded by Sparkhill.
    record = family_consent((Recipient.HOUSING,)).model_copy(
        update={
            "recorded_by_agency": Recipient.SCHOOLS,
            "recorded_by_organisation": YUSUFS_SCHOOL,
        }
    )
    ConsentStore(sqlite_engine).save_record(record)
    url = f"/v1/consents/{record.consent_id}/withdraw"
    other = http.post(url, json={"withdrawn_by": "dsl-2"}, headers=auth(maryams))
    assert other.status_code == 403
    assert f"(schools {YUSUFS_SCHOOL})" in other.json()["detail"]
    own = http.post(url, json={"withdrawn_by": "dsl-1"}, headers=auth(yusufs))
    assert own.status_code == 202
