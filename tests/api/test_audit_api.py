"""The audit ledger end to end: reads by several roles over HTTP, on ``ehx.audit``, chained by
the audit service on the real broker, then asked by an auditor who saw a child.

Maryam Khan is put on a child protection plan, so other agencies' views of her records
also notify the agencies that hold them (CP-IS).
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import uuid
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import Engine

from ehx.api import AgencyCredentials
from ehx.audit.access import AccessLog
from ehx.audit.verify import verify
from ehx.organisations.people import AUDITOR
from ehx.schemas.vocabulary import Recipient
from tests.conftest import eventually
from tests.flows import MARYAMS_SCHOOL, audit_service, directory_loaded, khans_with_a_plan
from tests.helpers import read_json
from tests.people import registered
from tests.serving import auth

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

Client = tuple[httpx.Client, AgencyCredentials]


def _read(http: httpx.Client, token: str, family: str, reader: str) -> list[dict[str, Any]]:
    response = http.get(
        f"/v1/families/{family}/timeline", params={"reader": reader}, headers=auth(token)
    )
    assert response.status_code == 200, response.text
    entries: list[dict[str, Any]] = response.json()
    return entries


def test_who_saw_returns_exactly_the_reads_performed_and_plan_views_notify_the_holder(
    client: Client, sqlite_engine: Engine, kafka_bootstrap: str
) -> None:
    http, credentials = client
    family, maryam = khans_with_a_plan(sqlite_engine)
    directory_loaded(sqlite_engine)
    tokens = {r: credentials.issue(r, f"{r.value} system") for r in Recipient}
    # The school is Maryam's: a school reads about its own pupils.
    tokens[Recipient.SCHOOLS] = credentials.issue(
        Recipient.SCHOOLS, "Ashfield MIS", organisation=MARYAMS_SCHOOL
    )
    auditor = credentials.issue(AUDITOR, "DPO")
    run = uuid.uuid4().hex[:6]

    key = Ed25519PrivateKey.generate()
    with audit_service(kafka_bootstrap, sqlite_engine, key) as ledger:
        # The script: who reads what, as which recipient.
        script = [
            (Recipient.MASH, f"sw-a-{run}"),
            (Recipient.MASH, f"sw-b-{run}"),
            (Recipient.SCHOOLS, f"dsl-{run}"),
            (Recipient.EARLY_HELP, f"ew-{run}"),
            (Recipient.POLICE, f"pc-{run}"),
            (Recipient.MASH, f"sw-a-{run}"),  # the same screener looks again: two reads
        ]
        of = {Recipient.SCHOOLS: f"school:{MARYAMS_SCHOOL}"}
        for recipient, reader in script:
            registered(sqlite_engine, reader, of.get(recipient, recipient.value))
        registered(sqlite_engine, f"dpo-{run}", "dpo")
        expected: list[tuple[str, str]] = []
        for recipient, reader in script:
            entries = _read(http, tokens[recipient], family, reader)
            if any(p["person_id"] == maryam for e in entries for p in e["people"]):
                # The ledger names the organisation: the school by its URN.
                whose = f"school:{MARYAMS_SCHOOL}" if recipient is Recipient.SCHOOLS else None
                expected.append((reader, whose or recipient.value))
        queue = http.get(
            "/v1/alerts", params={"reader": f"sw-a-{run}"}, headers=auth(tokens[Recipient.MASH])
        )
        assert queue.status_code == 200
        assert len(expected) >= 4  # the MASH thrice, the school's Encompass notice

        ours = {reader for _, reader in script}
        await_reads = len(script) + 1
        asyncio.run(
            eventually(
                lambda: (
                    sum(
                        1
                        for f in ledger.find(actions=["timeline.read", "alerts.read"])
                        if f.record.actor in ours
                    )
                    >= await_reads
                )
            )
        )

        # Auditors only.
        forbidden = http.get(
            f"/v1/audit/who-saw/{maryam}", params={"by": "x"}, headers=auth(tokens[Recipient.MASH])
        )
        assert forbidden.status_code == 403
        assert (
            http.get(
                f"/v1/families/{family}/timeline", params={"reader": "x"}, headers=auth(auditor)
            ).status_code
            == 403
        )

        rows = http.get(
            f"/v1/audit/who-saw/{maryam}", params={"by": f"dpo-{run}"}, headers=auth(auditor)
        ).json()
        viewed = sorted(
            (r["actor"], r["agency"]) for r in rows if r["seen"] == "viewed" and r["actor"] in ours
        )
        assert viewed == sorted(expected)
        # The family's who-saw also holds the look at the alert queue, which named it.
        family_rows = http.get(
            f"/v1/audit/who-saw/{family}", params={"by": f"dpo-{run}"}, headers=auth(auditor)
        ).json()
        assert any(
            r["action"] == "alerts.read" and r["actor"] == f"sw-a-{run}" for r in family_rows
        )

        # CP-IS: the school viewed the police's record of Maryam; the police are told.
        asyncio.run(eventually(lambda: bool(AccessLog(sqlite_engine).history(agency="police"))))
        police = http.get("/v1/audit/access", headers=auth(tokens[Recipient.POLICE])).json()
        schools_view = [
            n
            for n in police
            if n["viewer"] == f"school:{MARYAMS_SCHOOL}" and n["actor"] == f"dsl-{run}"
        ]
        assert schools_view and all(
            n["owner"] == "police" and n["person_id"] == maryam for n in schools_view
        )
        school_side = http.get("/v1/audit/access", headers=auth(tokens[Recipient.SCHOOLS])).json()
        assert any(n["actor"] == f"dsl-{run}" for n in school_side)  # both can see it
        # A landlord's token that names no landlord sees none; one that does, its own.
        unnamed = http.get("/v1/audit/access", headers=auth(tokens[Recipient.HOUSING]))
        assert unnamed.status_code == 403 and "names no organisation" in unnamed.text
        landlord = credentials.issue(Recipient.HOUSING, "BCC housing", organisation="BCC")
        housing = http.get("/v1/audit/access", headers=auth(landlord)).json()
        assert all("housing:BCC" in (n["owner"], n["viewer"]) for n in housing)
        # Police reading their own records about her notify nobody of themselves.
        assert not [n for n in police if n["viewer"] == "police" and n["owner"] == "police"]

        # Exports: one AuditEvent and one CSV row per entry about her. The auditor's own
        # who-saw about her is on the ledger first (it travels through ehx.audit too).
        asyncio.run(
            eventually(
                lambda: any(
                    f.record.actor == f"dpo-{run}" and maryam in f.record.subject_ids
                    for f in ledger.find(actions=["audit.read"])
                )
            )
        )
        bundle = http.get(
            "/v1/audit/export",
            params={"by": f"dpo-{run}", "subject": maryam},
            headers=auth(auditor),
        ).json()
        # The export's own record travels through ehx.audit too; the CSV asked for next holds it.
        asyncio.run(
            eventually(
                lambda: any(
                    f.record.actor == f"dpo-{run}" and maryam in f.record.subject_ids
                    for f in ledger.find(actions=["audit.exported"])
                )
            )
        )
        table = http.get(
            "/v1/audit/export",
            params={"by": f"dpo-{run}", "subject": maryam, "format": "csv"},
            headers=auth(auditor),
        ).text
        events = [e["resource"] for e in bundle["entry"]]
        assert events and all(e["resourceType"] == "AuditEvent" for e in events)
        seqs = {e["extension"][0]["valueInteger"] for e in events}
        rows_in_csv = list(csv.DictReader(io.StringIO(table)))
        # The CSV was asked for after the FHIR export, whose own record it also holds.
        extra = [r for r in rows_in_csv if int(r["seq"]) not in seqs]
        assert [r["action"] for r in extra] == ["audit.exported"]
        assert len(rows_in_csv) == len(events) + 1
        assert "Maryam" not in table and "Khan" not in table  # ids only

    verdict = verify(ledger.entries(), ledger.checkpoints(), key.public_key())
    assert verdict.ok, verdict.problems
    assert verdict.checkpoints >= 1


def test_refused_api_requests_are_recorded_with_the_tokens_holder_never_the_token(
    client: Client, kafka_bootstrap: str
) -> None:
    http, credentials = client
    housing = credentials.issue(Recipient.HOUSING, "housing system")
    path = f"/v1/audit/who-saw/p{uuid.uuid4().hex[:8]}"
    assert http.get(path, params={"by": "x"}, headers=auth(housing)).status_code == 403
    assert http.get(path, params={"by": "x"}, headers=auth("ehx_nonsense")).status_code == 401
    found = asyncio.run(
        read_json(
            kafka_bootstrap,
            "ehx.audit",
            lambda b: b["action"] == "access.refused" and path in b["purpose"],
            count=2,
        )
    )
    actors = sorted(body["actor"] for _, body in found)
    assert actors == ["token:housing", "unknown token"]
    assert all(housing not in json.dumps(body) for _, body in found)


def test_junk_requests_make_a_counted_entry_not_one_each(
    client: Client, kafka_bootstrap: str
) -> None:
    """Finding 14: 2,000 junk requests made 2,000 ledger entries, burying the ones that
    matter. The first refusal of a caller in a minute is recorded; the rest are counted."""
    http, _ = client
    path = f"/v1/audit/who-saw/p{uuid.uuid4().hex[:8]}"
    for _ in range(200):
        assert http.get(path, params={"by": "x"}).status_code == 401
    found = asyncio.run(
        read_json(
            kafka_bootstrap,
            "ehx.audit",
            lambda b: b["action"] == "access.refused" and path in b["purpose"],
        )
    )
    assert 1 <= len(found) <= 2  # two only if the minute turned while they came
