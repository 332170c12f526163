"""``ehx timeline`` as a practitioner runs it: a long family timeline a page at a time."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from ehx.cli import app
from ehx.database import migrate, open_engine
from tests.flows import audit_entries, khans_on_file
from tests.helpers import cli_environment
from tests.people import registered

pytestmark = pytest.mark.kafka


def said(result: Result) -> str:
    """What a command printed, as one line (the error panel wraps and frames it)."""
    return " ".join(result.output.replace("│", " ").split())


@pytest.fixture
def family(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kafka_bootstrap: str) -> str:
    cli_environment(monkeypatch, tmp_path, kafka_bootstrap)
    engine = open_engine()
    migrate(engine)
    found = khans_on_file(engine)
    engine.dispose()
    return found


def test_last_shows_the_latest_entries_and_says_how_to_ask_for_the_ones_before(
    family: str, kafka_bootstrap: str
) -> None:
    import asyncio

    runner = CliRunner()
    view = ["timeline", family, "--as", "early_help"]
    engine = open_engine()
    # --by names someone with an account of the view read: nobody else.
    stranger = runner.invoke(app, [*view, "--by", "ew-1", "--json"])
    assert stranger.exit_code == 2 and "not a live account of early_help" in said(stranger)
    registered(engine, "ew-1", "early_help")
    whole = json.loads(runner.invoke(app, [*view, "--by", "ew-1", "--json"]).output)
    assert len(whole) >= 3
    # The same chronology as CSV, for a case file: a header and a row an entry.
    sheet = runner.invoke(app, [*view, "--by", "ew-1", "--csv"]).output.splitlines()
    assert sheet[0].startswith("date,agency,what happened") and len(sheet) == len(whole) + 1
    reader = registered(engine, f"ew-{uuid.uuid4().hex[:6]}", "early_help")
    engine.dispose()

    latest = runner.invoke(app, [*view, "--by", reader, "--last", "2", "--json"])
    assert latest.exit_code == 0, latest.output
    assert [e["event_id"] for e in json.loads(latest.output)] == [e["event_id"] for e in whole[-2:]]
    shown = runner.invoke(app, [*view, "--by", reader, "--last", "2"], terminal_width=400)
    hint = f"--last 2 --before {whole[-2]['event_id']}"
    assert "(2 entries)" in shown.output and hint in shown.output

    back = runner.invoke(app, [*view, "--by", reader, *hint.split(), "--json"])
    assert [e["event_id"] for e in json.loads(back.output)] == [e["event_id"] for e in whole[-4:-2]]
    reads = asyncio.run(audit_entries(kafka_bootstrap, reader))
    assert reads[0]["event_ids"] == [e["event_id"] for e in whole[-2:]]  # only what was shown

    unknown = runner.invoke(app, [*view, "--by", reader, "--last", "2", "--before", "nope"])
    assert unknown.exit_code == 2 and "no entry nope" in unknown.output


def test_command_line_reads_of_consent_previews_and_encompass_go_on_the_ledger(
    family: str, kafka_bootstrap: str
) -> None:
    """The operator's reads are reads too: each is recorded before it is shown."""
    import asyncio

    runner = CliRunner()
    engine = open_engine()
    reader = registered(engine, f"sw-{uuid.uuid4().hex[:6]}", "mash")
    engine.dispose()
    for command in (
        ["consent", "show", family, "--by", reader],
        ["consent", "preview", family, "--as", "schools", "--by", reader],
        ["encompass", "--by", reader],
    ):
        result = runner.invoke(app, command)
        assert result.exit_code == 0, (command, result.output)
    reads = asyncio.run(audit_entries(kafka_bootstrap, reader))
    assert sorted(r["action"] for r in reads) == [
        "consents.read",
        "encompass.read",
        "preview.read",
    ]
    # Recorded as who they are: a MASH screener, for the MASH.
    assert all((r["role"], r["agency"]) == ("mash_screener", "mash") for r in reads)
    refused = runner.invoke(app, ["encompass", "--by", "nobody-here"])
    assert refused.exit_code == 2
    assert "not a live account of mash or local_authority" in said(refused)
