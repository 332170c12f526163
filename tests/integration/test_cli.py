"""The commands a new user runs, as subprocesses: demo; up, ingest, events, status, down."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ehx.consent.policy import default_policy_path
from tests.conftest import eventually_now
from tests.helpers import EXAMPLES

pytestmark = [pytest.mark.kafka, pytest.mark.slow]


def ehx(
    *args: str, data_dir: Path, timeout: float = 120, **settings: str
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("EHX_")}
    env["EHX_DATA_DIR"] = str(data_dir)
    env.update({f"EHX_{k.upper()}": v for k, v in settings.items()})
    return subprocess.run(
        [sys.executable, "-m", "ehx", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
        check=False,
    )


def test_demo_runs_start_to_finish_and_every_event_arrives(tmp_path: Path) -> None:
    result = ehx("demo", "--json", data_dir=tmp_path)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["complete"] is True
    assert report["events_published"] == report["events_verified_and_stored"] == 10
    assert report["events_linked"] == 10
    assert (report["people"], report["families"]) == (4, 1)
    refused = [r for s in report["ingest"] for r in s["refused"]]
    assert [r["position"] for r in refused] == [
        "refused-police.jsonl:1",
        "refused-police.jsonl:2",
        "refused-police.jsonl:3",
    ]
    ledger = report["audit_ledger"]
    assert ledger["verify"]["ok"] and ledger["verify"]["checkpoints_checked"] >= 1
    assert ledger["entries_by_action"]["record.refused"] == 3
    viewed = [r for r in ledger["who_saw_youngest_child"] if r["seen"] == "viewed"]
    assert [(r["actor"], r["agency"]) for r in viewed] == [("ew-demo", "early_help")]


def test_ingest_without_a_broker_says_how_to_start_one(tmp_path: Path) -> None:
    result = ehx("ingest", "police", str(EXAMPLES / "police.jsonl"), data_dir=tmp_path)
    assert result.returncode == 2
    assert "ehx up" in result.stderr and "Traceback" not in result.stderr


def test_up_then_ingest_then_events_then_down(tmp_path: Path) -> None:
    # Asked to (as the latency benchmark asks), each service says as it stops how long
    # the garbage collector stopped it.
    started = ehx("up", data_dir=tmp_path, collector_reports=str(tmp_path))
    assert started.returncode == 0, started.stderr
    try:
        status = json.loads(ehx("status", "--json", data_dir=tmp_path).stdout)
        assert [row["state"] for row in status[:6]] == ["running"] * 6  # broker, 5 services
        ingested = ehx(
            "ingest", "police", str(EXAMPLES / "police.jsonl"), "--json", data_dir=tmp_path
        )
        assert ingested.returncode == 0, ingested.stderr
        assert json.loads(ingested.stdout)["events_published"] == 2
        again = json.loads(
            ehx(
                "ingest", "police", str(EXAMPLES / "police.jsonl"), "--json", data_dir=tmp_path
            ).stdout
        )
        assert again["duplicates"] == 2 and again["events_published"] == 0
        counts: list[dict[str, object]] = []

        def counted() -> bool:
            counts[:] = json.loads(ehx("events", "--json", data_dir=tmp_path).stdout)["counts"]
            return bool(counts)

        eventually_now(counted, 60, every=0.5)
        assert counts == [{"agency": "police", "event_type": "police.incident", "events": 2}]
    finally:
        stopped = ehx("down", data_dir=tmp_path)
    for service in ("intake", "linker", "consent", "timeline", "audit"):
        assert f"Stopped {service} (pid" in stopped.stdout  # each in a process of its own
    assert "Stopped broker" in stopped.stdout
    reports = {
        service: json.loads((tmp_path / f"collector-{service}.json").read_text())
        for service in ("intake", "linker", "consent", "timeline", "audit")
    }
    # Each process timed its collections (start-up's full one at least) for the benchmark:
    # start, generation, seconds, objects freed.
    assert all(reports.values())
    assert all(len(row) == 4 and row[1] in (0, 1, 2) for stops in reports.values() for row in stops)
    status = json.loads(ehx("status", "--json", data_dir=tmp_path).stdout)
    assert status[0]["state"] == "not running (ehx up)"


def test_a_bad_policy_file_stops_ehx_up_naming_the_line(tmp_path: Path) -> None:
    policy = tmp_path / "policy.yaml"
    text = (
        default_policy_path()
        .read_text()
        .replace("override_review_hours: 72", "override_review_hours: soon")
    )
    policy.write_text(text)
    result = subprocess.run(
        [sys.executable, "-m", "ehx", "up"],
        capture_output=True,
        text=True,
        env={**os.environ, "EHX_POLICY_FILE": str(policy), "EHX_DATA_DIR": str(tmp_path / "data")},
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    line = next(n for n, row in enumerate(text.splitlines(), 1) if "override_review_hours" in row)
    assert f"line {line}" in result.stderr and "override_review_hours" in result.stderr
    assert not (tmp_path / "data" / "run" / "state.json").exists()  # nothing was started
