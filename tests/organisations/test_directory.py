"""The directory a council loads: its own file or the DfE's schools extract, refused whole
with each problem's line, loaded idempotently, changes kept as versions."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine
from typer.testing import CliRunner

from ehx.cli import app
from ehx.organisations.directory import Kind, Organisation, read_directory
from ehx.organisations.store import OrganisationStore
from tests.helpers import EXAMPLES
from tests.records import NOW

OURS = (EXAMPLES / "organisations.csv").read_text()
#: The first columns of a "Get Information About Schools" extract, as the DfE sends it.
GIAS = (
    "URN,LA (code),LA (name),EstablishmentNumber,EstablishmentName,"
    "TypeOfEstablishment (name),EstablishmentStatus (name)\n"
    "103291,330,Birmingham,2000,Anderton Park Primary School,Community school,Open\n"
    "103377,330,Birmingham,2001,Ashfield Primary School,Community school,Open\n"
    "103999,330,Birmingham,2002,Old Road Infants,Community school,Closed\n"
)


def test_the_councils_own_file_names_every_kind_of_organisation() -> None:
    found, problems = read_directory(OURS)
    assert not problems
    assert {o.kind for o in found} == set(Kind)
    sparkhill = next(o for o in found if o.code == "103512")
    assert sparkhill.ref == "school:103512" and "DSL" in sparkhill.key_adult


def test_a_gias_extract_is_read_as_it_is_and_closed_schools_are_left_out() -> None:
    found, problems = read_directory(GIAS)
    assert not problems
    assert [(o.ref, o.name) for o in found] == [
        ("school:103291", "Anderton Park Primary School"),
        ("school:103377", "Ashfield Primary School"),
    ]


def test_a_file_with_problems_is_refused_whole_each_with_its_line() -> None:
    bad = (
        "kind,code,name,key_adult,deputy,calendar\n"
        "school,103512,Sparkhill Park Academy,Ms R. Akhtar (DSL),,\n"  # fine
        "school,10351,Short URN Primary,,,\n"
        "health,rq3!,A trust,,,\n"
        "charity,C1,Not a kind,,,\n"
        "school,103512,Sparkhill again,,,\n"
        "police,WMP,,,,\n"
    )
    found, problems = read_directory(bad)
    assert found == []  # nothing half-loaded
    assert [(p.line, p.reason.split(":")[0]) for p in problems] == [
        (3, "school code '10351'"),
        (4, "health code 'rq3!'"),
        (5, "unknown kind; one of " + ", ".join(k.value for k in Kind)),
        (6, "school"),
        (7, "name is empty"),
    ]
    assert "is also on line 2" in problems[3].reason
    assert "Akhtar" not in str(problems)  # problems never quote the people in a row


def test_missing_columns_are_named() -> None:
    found, problems = read_directory("kind,name\nschool,Somewhere\n")
    assert found == [] and problems[0].reason == "missing columns: code"


def test_loading_is_idempotent_and_a_change_is_a_new_version(engine: Engine) -> None:
    store = OrganisationStore(engine)
    found, _ = read_directory(OURS)
    first = store.load(found, NOW)
    assert (first.added, first.changed, first.unchanged) == (len(found), 0, 0)
    again = store.load(found, NOW + timedelta(days=1))
    assert (again.added, again.changed, again.unchanged) == (0, 0, len(found))
    sparkhill = store.get(Kind.SCHOOL, "103512")
    assert sparkhill is not None
    new_key_adult = Organisation(
        Kind.SCHOOL, "103512", sparkhill.name, "Mr T. Hussain (DSL)", sparkhill.deputy
    )
    changed = store.load([new_key_adult], NOW + timedelta(days=30))
    assert (changed.added, changed.changed) == (0, 1)
    assert store.get(Kind.SCHOOL, "103512") == new_key_adult
    assert len(store.current(Kind.SCHOOL)) == 3


def test_a_council_loads_and_lists_its_directory_from_the_command_line(
    sqlite_engine: Engine, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("EHX_DATABASE_URL", str(sqlite_engine.url))
    runner = CliRunner()
    loaded = runner.invoke(app, ["organisations", "load", str(EXAMPLES / "organisations.csv")])
    assert loaded.exit_code == 0 and "11 added" in loaded.output
    again = runner.invoke(
        app, ["organisations", "load", str(EXAMPLES / "organisations.csv"), "--json"]
    )
    assert json.loads(again.output) == {"loaded": True, "added": 0, "changed": 0, "unchanged": 11}
    schools = json.loads(
        runner.invoke(app, ["organisations", "list", "--kind", "school", "--json"]).output
    )
    assert [s["ref"] for s in schools] == ["school:103291", "school:103377", "school:103512"]
    bad = tmp_path / "bad.csv"
    bad.write_text("kind,code,name\nschool,12,Too short\n")
    refused = runner.invoke(app, ["organisations", "load", str(bad)])
    assert refused.exit_code == 3 and "line 2" in refused.output
