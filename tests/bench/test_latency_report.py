"""The latency report says how long the garbage collector stopped each service."""

from __future__ import annotations

import json
from pathlib import Path

from bench.latency import collector_stops
from bench.run import collector_summary


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
