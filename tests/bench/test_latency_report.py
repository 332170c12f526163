"""The latency report: how long the collector stopped each service, and the goal's margin."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from bench.latency import collector_stops, other_load
from bench.report import cpu_seconds
from bench.run import _latency_markdown, collector_summary


def test_only_the_collections_inside_the_run_are_counted_by_generation(tmp_path: Path) -> None:
    # start (epoch s), generation, seconds, objects freed: as heap.record_stops keeps them
    (tmp_path / "collector-timeline.json").write_text(
        json.dumps(
            [[5.0, 2, 0.9, 7], [10.0, 0, 0.001, 0], [11.0, 1, 0.25, 40], [12.0, 0, 0.003, 2]]
        )
    )
    (tmp_path / "collector-linker.json").write_text(json.dumps([[10.5, 0, 0.002, 0]]))
    found = collector_stops(tmp_path, ("linker", "timeline", "audit"), (9.0, 20.0))
    assert found == {
        "linker": {"young": {"count": 1, "longest_ms": 2.0, "total_ms": 2.0, "collected": 0}},
        # the full collection at start-up (5.0) is before the run and left out
        "timeline": {
            "middle": {"count": 1, "longest_ms": 250.0, "total_ms": 250.0, "collected": 40},
            "young": {"count": 2, "longest_ms": 3.0, "total_ms": 4.0, "collected": 2},
        },
    }  # audit wrote nothing (it did not stop cleanly): absent, not zero
    assert collector_summary(found) == (
        "timeline 250 ms (middle; 254 ms in all), linker 2 ms (young; 2 ms in all)"
    )


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads Linux's /proc")
def test_the_other_load_keeps_about_its_share_of_a_core_busy() -> None:
    with other_load(0.5) as busy:
        assert busy is not None
        time.sleep(0.5)  # the interpreter's start-up, then a steady share
        before, began = cpu_seconds(busy.pid), time.monotonic()
        time.sleep(2.0)
        share = (cpu_seconds(busy.pid) - before) / (time.monotonic() - began)
    # Never more than its share; less when the test's own neighbours keep both cores
    # busy (a full run saw 0.25 with two workers and the cluster tests beside it).
    assert 0.1 < share < 0.7
    assert busy.poll() is not None  # gone once the run is over
    with other_load(0.0) as none:
        assert none is None


def test_a_run_with_other_load_says_so_and_is_kept_out_of_the_cpu_line() -> None:
    run = {
        "rate": 1000,
        "processes": "one per service",
        "offered_per_second": 1000.0,
        "records": 10,
        "alerts_seen": 10,
        "p50_ms": 300.0,
        "p99_ms": 700.0,
        "max_ms": 800.0,
        "cpu_ms_per_record": {"linker": 0.4},
    }
    lines = _latency_markdown(
        {
            "runs": [
                run,
                {
                    **run,
                    "cpu_taken_elsewhere": 0.5,
                    "p99_ms": 900.0,
                    "cpu_ms_per_record": {"linker": 0.5},
                },
            ],
            "measured": "2026-12-06T12:00:00+00:00",
        }
    )
    rows = [line for line in lines if line.startswith("| 1,000/s")]
    assert rows[0].startswith("| 1,000/s | one per service | ")
    assert rows[1].startswith("| 1,000/s | one per service, 0.5 of a core busy elsewhere | ")
    assert "| 900 |" in rows[1]
    assert any(
        line.startswith("CPU ms a record by process") and "linker 0.40" in line for line in lines
    )
