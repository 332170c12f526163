"""``ehx rights access`` as a data protection officer answers Amina Khan's request."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, select
from typer.testing import CliRunner, Result

from ehx.audit.ledger import AuditLedger
from ehx.cli import app
from ehx.database import migrate, open_engine, timeline_people
from ehx.schemas.audit import AuditRecord
from ehx.schemas.payloads import PoliceIncident
from tests.consent.fakes import AMINA, KHANS
from tests.flows import audit_entries, directory_loaded, khans_on_file
from tests.helpers import cli_environment
from tests.people import registered

pytestmark = pytest.mark.kafka
RUN = CliRunner()


def said(result: Result) -> str:
    return " ".join(result.output.replace("│", " ").split())


@pytest.fixture
def engine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kafka_bootstrap: str) -> Engine:
    cli_environment(monkeypatch, tmp_path / "data", kafka_bootstrap)
    found = open_engine()
    migrate(found)
    khans_on_file(found, khans=KHANS)  # the very events, to compare with what went in
    directory_loaded(found)
    registered(found, "dpo-access", "dpo")
    registered(found, "auditor-access", "auditor")
    registered(found, "pc-access", "police")
    registered(found, "dsl-access", "school:103512")
    return found


def test_the_package_is_what_was_ingested_and_shared_about_her_with_others_redacted(
    engine: Engine, tmp_path: Path, kafka_bootstrap: str
) -> None:
    # Someone looked at her timeline: she is told the organisation and role, not the name.
    AuditLedger(engine).append(
        [
            AuditRecord(
                action="timeline.read",
                actor="sw-looked",
                role="mash_screener",
                agency="mash",
                purpose="screening",
                subject_ids=(AMINA,),
                at=datetime.now(UTC),
            )
        ]
    )
    out = tmp_path / "request"
    done = RUN.invoke(app, ["rights", "access", AMINA, "--by", "dpo-access", "--out", str(out)])
    assert done.exit_code == 0, done.output
    package = json.loads((out / "subject-access.json").read_text())
    html = (out / "subject-access.html").read_text()

    # Every record about her as it was ingested, and nothing about anyone else only.
    hers = [e for e in KHANS if any(s.person_id == AMINA for s in e.subjects)]
    assert {r["event_id"] for r in package["records"]} == {str(e.event_id) for e in hers}
    for record, event in zip(
        sorted(package["records"], key=lambda r: r["event_id"]),
        sorted(hers, key=lambda e: str(e.event_id)),
        strict=True,
    ):
        [own] = [s for s in event.subjects if s.person_id == AMINA]
        [shown] = [s for s in record["record"]["subjects"] if s.get("person_id") == AMINA]
        assert shown["demographics"] == own.demographics.model_dump(mode="json")
        assert record["record_ref"] == event.source.record_ref

    # What each recipient was given about her: exactly the timelines that carry her.
    with engine.connect() as connection:
        carried = {
            (str(e), r)
            for r, e in connection.execute(
                select(timeline_people.c.recipient, timeline_people.c.event_id).where(
                    timeline_people.c.person_id == AMINA
                )
            )
        }
    given = {(d["event_id"], d["to"]) for d in package["disclosures"]}
    assert given == carried and carried
    assert all(d["basis"] for d in package["disclosures"])

    # Other people's details and staff are redacted, hers are not.
    others = {
        name
        for e in hers
        for s in e.subjects
        if s.person_id != AMINA
        for name in (s.demographics.given_name,)
    }
    assert others and not any(name in html or name in json.dumps(package) for name in others)
    assert "Amina" in html and "[redacted: third party]" in html
    incident = next(e for e in hers if e.payload.kind == "police.incident")
    assert isinstance(incident.payload, PoliceIncident)
    collar = incident.payload.officer_collar_number
    assert collar not in json.dumps(package) and "[redacted: staff]" in html
    [looked] = package["audit"]
    assert (looked["organisation"], looked["who"]) == ("mash", "[redacted: staff]")
    assert "sw-looked" not in html

    # The request is on the ledger: who read everything about her.
    [request] = asyncio.run(audit_entries(kafka_bootstrap, "dpo-access"))
    assert request["action"] == "rights.access" and AMINA in request["subject_ids"]
    assert request["role"] == "data_protection_officer"

    # The release is recorded with the package's hash.
    sent = RUN.invoke(app, ["rights", "release", str(out), "--by", "dpo-access"])
    assert sent.exit_code == 0, sent.output


def test_an_item_marked_withhold_is_listed_for_the_dpo_with_the_reason_not_dropped(
    engine: Engine, tmp_path: Path
) -> None:
    incident = next(
        e
        for e in KHANS
        if e.payload.kind == "police.incident" and any(s.person_id == AMINA for s in e.subjects)
    )
    event = str(incident.event_id)
    why = "Telling her would alert the suspect to an ongoing investigation."
    # Only the organisation that sent it (or the MASH) may ask: a school may not.
    school = RUN.invoke(app, ["rights", "withhold", event, "--by", "dsl-access", "--reason", why])
    assert school.exit_code == 2 and "not a live account of police or mash" in said(school)
    marked = RUN.invoke(app, ["rights", "withhold", event, "--by", "pc-access", "--reason", why])
    assert marked.exit_code == 0, marked.output

    out = tmp_path / "request"
    RUN.invoke(app, ["rights", "access", AMINA, "--by", "dpo-access", "--out", str(out)])
    released = json.loads((out / "subject-access.json").read_text())
    assert event not in {r["event_id"] for r in released["records"]}
    decide = json.loads((out / "for-your-decision.json").read_text())
    [held] = [d for d in decide if d["event_id"] == event]
    assert why in held["why"] and "pc-access" in held["why"]
    # The DPO decides to release it after all.
    again = RUN.invoke(
        app,
        [
            "rights",
            "access",
            AMINA,
            "--by",
            "dpo-access",
            "--out",
            str(out),
            "--release-withheld",
            event,
        ],
    )
    assert again.exit_code == 0
    assert event in {
        r["event_id"] for r in json.loads((out / "subject-access.json").read_text())["records"]
    }


def test_only_a_dpo_answers_and_only_about_someone_held(engine: Engine, tmp_path: Path) -> None:
    out = str(tmp_path / "request")
    auditor = RUN.invoke(app, ["rights", "access", AMINA, "--by", "auditor-access", "--out", out])
    assert auditor.exit_code == 2 and "data protection officer's" in said(auditor)
    unknown = RUN.invoke(app, ["rights", "access", "p99999999", "--by", "dpo-access", "--out", out])
    assert unknown.exit_code == 2 and "nothing is held about p99999999" in said(unknown)
    assert not Path(out).exists()  # nothing written for a refused request


def test_an_item_she_disputes_says_so_wherever_it_is_read(engine: Engine) -> None:
    registered(engine, "ew-dispute", "early_help")
    family = next(s.family_id for e in KHANS for s in e.subjects if s.person_id == AMINA)
    read = ["timeline", str(family), "--as", "early_help", "--by", "ew-dispute"]
    [first, *_] = json.loads(RUN.invoke(app, [*read, "--json"]).output)
    assert first["disputed"] is None
    note = "Amina says she was not at home that night."
    dpo = ["rights", "dispute", first["event_id"], "--by", "dpo-access", "--note", note]
    # The DPO records the dispute; a practitioner cannot.
    assert RUN.invoke(app, [*dpo[:4], "ew-dispute", *dpo[5:]]).exit_code == 2
    assert RUN.invoke(app, dpo).exit_code == 0
    [again, *_] = json.loads(RUN.invoke(app, [*read, "--json"]).output)
    assert again["disputed"] == note
    sheet = RUN.invoke(app, [*read, "--csv"]).output
    assert f"[disputed by the person it is about: {note}]" in sheet
