"""Faults under a stream: nothing acknowledged is lost, duplicated or put out of order.

Each service runs in its own process (as ``ehx services --only`` runs it) while a
synthetic city's records stream in through the adapters, and something goes wrong:
services killed (SIGKILL) or stopped mid-batch (SIGTERM) and restarted; each service
paused past its session timeout (its late work must be fenced); the broker paused for
30 seconds; PostgreSQL stopped hard and restarted; a burst of ten times the rate. The
checker (``bench/checker.py``) then compares everything acknowledged at the input with
what intake, the linker, consent, every recipient's timeline and the audit ledger hold.

These are the short versions; ``EHX_FAULT_SCALE=N`` makes the city N times bigger, and
``ehx bench --suite faults`` runs the long ones.
"""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from bench.faults import (
    SESSION_TIMEOUT_S,
    Disruption,
    Rate,
    broker_pause,
    burst,
    database_restart,
    fault_run,
    kills,
    nothing,
    pauses,
    steady,
)
from bench.postgres import PostgresUnavailable, PrivateCluster
from ehx.broker.admin import apply_topology
from ehx.broker.embedded import EmbeddedBroker
from ehx.broker.settings import BrokerSettings
from ehx.runtime import SERVICES

pytestmark = [pytest.mark.kafka, pytest.mark.slow]
SCALE = int(os.environ.get("EHX_FAULT_SCALE", "1"))
PEOPLE = 400 * SCALE  # about 600 records
#: Records/s of the steady stream each fault strikes: 600 records in 15 s.
RATE = 40.0
#: The burst's normal rate (ten times it in the burst).
BURST_RATE = 20.0


@pytest.fixture
def fault_bootstrap(tmp_path: Path) -> Iterator[str]:
    """A broker of each fault run's own. The services' consumer groups have fixed names,
    and a member killed mid-rebalance on the session's broker can leave tansu's group
    wedged (members rejoin at one generation forever, as seen in CI), failing every later
    run that joins it; a fresh broker starts in a second next to runs of minutes."""
    with EmbeddedBroker(log_path=tmp_path / "broker.log") as broker:
        yield broker.bootstrap


async def _run(
    bootstrap: str,
    url: str,
    work: Path,
    disrupt: Disruption,
    rate: Rate = steady(RATE),
    people: int = PEOPLE,
    **kw: Any,
) -> dict[str, Any]:
    await apply_topology(bootstrap, BrokerSettings())
    report = await fault_run(
        bootstrap,
        url,
        work,
        people=people,
        disrupt=disrupt,
        rate=rate,
        stream_seconds=people * 1.5 / RATE,  # a city has about 1.5 records a person
        **kw,
    )
    print(json.dumps(report, indent=2))  # the figures, in the CI log
    check = report["check"]
    assert report["ok"], report
    assert check["accepted_events"] >= 500 * SCALE
    assert check["expected_deliveries"] > 0
    return report


@pytest.mark.parametrize("how", [signal.SIGKILL, signal.SIGTERM], ids=["kill", "term"])
async def test_services_stopped_under_a_stream_lose_and_duplicate_nothing(
    fault_bootstrap: str, engine: Engine, tmp_path: Path, how: signal.Signals
) -> None:
    url = engine.url.render_as_string(hide_password=False)
    report = await _run(fault_bootstrap, url, tmp_path, kills(4 * SCALE, how))
    assert len(report["disruptions"]) == 4 * SCALE


async def test_each_service_paused_past_its_session_timeout_does_nothing_twice(
    fault_bootstrap: str, sqlite_engine: Engine, tmp_path: Path
) -> None:
    url = sqlite_engine.url.render_as_string(hide_password=False)
    paused = SESSION_TIMEOUT_S + 5
    report = await _run(fault_bootstrap, url, tmp_path, pauses(SERVICES, paused))
    assert [d["service"] for d in report["disruptions"]] == list(SERVICES)


async def test_the_broker_paused_for_thirty_seconds_loses_nothing_acknowledged(
    sqlite_engine: Engine, tmp_path: Path
) -> None:
    # A broker of its own: pausing the session's would stall nothing else, but its
    # process is not this test's to signal.
    url = sqlite_engine.url.render_as_string(hide_password=False)
    with EmbeddedBroker(log_path=tmp_path / "broker.log") as broker:
        report = await _run(
            broker.bootstrap, url, tmp_path, broker_pause(30.0), broker=broker.process
        )
    assert report["disruptions"] == [{"broker": "SIGSTOP", "paused_seconds": 30.0}]


async def test_postgresql_stopped_hard_and_restarted_loses_nothing_and_recovers_in_a_minute(
    fault_bootstrap: str, tmp_path: Path
) -> None:
    try:
        database = PrivateCluster()
    except PostgresUnavailable as exc:
        if os.environ.get("EHX_REQUIRE_POSTGRES"):
            pytest.fail(f"EHX_REQUIRE_POSTGRES is set: {exc}")
        pytest.skip(str(exc))
    with database:
        report = await _run(
            fault_bootstrap, database.url, tmp_path, database_restart(), database=database
        )
    [restart] = report["disruptions"]
    assert restart["recovered"] is not None and restart["recovered"] < 60


async def test_a_burst_of_ten_times_the_rate_clears_its_backlog_within_five_minutes(
    fault_bootstrap: str, sqlite_engine: Engine, tmp_path: Path
) -> None:
    url = sqlite_engine.url.render_as_string(hide_password=False)
    seconds = 60.0 if SCALE > 1 else 15.0
    people = int(BURST_RATE * (10 + 10 * seconds + 10) / 1.5)  # the burst, and normal around
    report = await _run(
        fault_bootstrap, url, tmp_path, nothing(), burst(BURST_RATE, 10.0, 5.0, seconds), people
    )
    assert report["backlog_cleared_seconds"] < 300
    assert report["alert_latency"]["alerts"] > 0  # reported, with p50, p99 and max
