"""An exchange set up before organisations: what it holds type-wide, and where it goes."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import Engine, delete, insert, select, update
from typer.testing import CliRunner

from ehx.api import AgencyCredentials
from ehx.cli import app
from ehx.database import timeline_entries, timeline_people
from ehx.schemas.vocabulary import Recipient
from ehx.timeline.legacy import map_legacy
from ehx.timeline.store import TimelineQuery, TimelineStore
from tests.flows import AMINAS_TRUST, directory_loaded, khans_served_by_two_of_each

MARYAM = "p00000004"


def as_before_organisations(engine: Engine, addressee: str, kind: str) -> str:
    """Put one organisation's entry back as its kind's, as an older exchange held it."""
    c = timeline_entries.c
    with engine.begin() as connection:
        row = connection.execute(
            select(timeline_entries).where(c.recipient == addressee, c.state == "shown")
        ).first()
        assert row is not None
        people = connection.execute(
            select(timeline_people.c.person_id).where(
                timeline_people.c.recipient == addressee,
                timeline_people.c.event_id == row.event_id,
            )
        ).scalars()
        for table in (timeline_entries, timeline_people):
            connection.execute(
                delete(table).where(
                    table.c.recipient == addressee, table.c.event_id == row.event_id
                )
            )
        connection.execute(insert(timeline_entries).values({**row._mapping, "recipient": kind}))
        connection.execute(
            insert(timeline_people),
            [{"recipient": kind, "event_id": row.event_id, "person_id": p} for p in people],
        )
    return str(row.event_id)


def test_a_kind_wide_entry_moves_to_the_trust_the_roll_names(sqlite_engine: Engine) -> None:
    family = khans_served_by_two_of_each(sqlite_engine)
    timeline = TimelineStore(sqlite_engine)
    aminas = f"health:{AMINAS_TRUST}"
    event_id = as_before_organisations(sqlite_engine, aminas, "health")
    held = {str(v.event_id) for v in timeline.entries(TimelineQuery(aminas, family_id=family))}
    assert event_id not in held  # the trust cannot read what its kind holds

    report = map_legacy(sqlite_engine, apply=False)
    assert report.moved == [("health", event_id, aminas)]
    assert event_id not in {
        str(v.event_id) for v in timeline.entries(TimelineQuery(aminas, family_id=family))
    }  # a report changes nothing
    assert map_legacy(sqlite_engine, apply=True).moved == report.moved
    back = {str(v.event_id) for v in timeline.entries(TimelineQuery(aminas, family_id=family))}
    assert event_id in back  # her trust reads it again, and no other organisation does
    assert map_legacy(sqlite_engine, apply=True).moved == []  # done once


def test_an_entry_two_organisations_serve_is_reported_not_moved(sqlite_engine: Engine) -> None:
    khans_served_by_two_of_each(sqlite_engine)
    event_id = as_before_organisations(sqlite_engine, f"health:{AMINAS_TRUST}", "health")
    c = timeline_entries.c
    with sqlite_engine.begin() as connection:  # a view about Amina and Maryam: two trusts'
        where = (c.recipient == "health", c.event_id == event_id)
        view = connection.execute(select(c.view).where(*where)).scalar_one()
        view["subjects"].append({"person_id": MARYAM, "role": "patient"})
        connection.execute(update(timeline_entries).where(*where).values(view=view))
    report = map_legacy(sqlite_engine, apply=True)
    assert report.kept == [("health", event_id, "its people are served by 2 organisations")]
    assert report.moved == []


def test_the_report_names_tokens_and_accounts_that_name_no_organisation(
    sqlite_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    directory_loaded(sqlite_engine)
    AgencyCredentials(sqlite_engine).issue(Recipient.SCHOOLS, "Old MIS")
    AgencyCredentials(sqlite_engine).issue(Recipient.SCHOOLS, "Sparkhill", organisation="103512")
    monkeypatch.setenv("EHX_DATABASE_URL", sqlite_engine.url.render_as_string(False))
    result = CliRunner().invoke(app, ["organisations", "legacy", "--json"])
    assert result.exit_code == 0, result.output
    found = json.loads(result.output)
    assert [(u["what"], u["name"]) for u in found["unbound"]] == [("token", "Old MIS")]
    assert "--org CODE" in found["unbound"][0]["fix"]
    assert found["applied"] is False
