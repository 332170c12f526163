"""``ehx bench-compare``: another ref's code and this checkout's, measured in turns."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest

from bench.compare import HERE, CompareFailed, Variant, checked_out, compare, render, summarise


def run(p50: float, linker: float, consent: float) -> dict[str, Any]:
    return {
        "records": 100,
        "alerts_seen": 100,
        "p50_ms": p50,
        "p99_ms": 2 * p50,
        "max_ms": 3 * p50,
        "cpu_ms_per_record": {"linker": linker, "consent": consent},
    }


def test_each_run_is_divided_by_its_own_linker_so_a_slow_minute_cancels_out() -> None:
    """The second round ran on a machine twice as slow: plain medians mislead, the ratio
    taken within each run does not."""
    before = Variant("main", Path("."), [run(100, 0.5, 1.0), run(300, 1.0, 2.0)])
    after = Variant("this checkout", Path("."), [run(90, 1.0, 1.8), run(80, 0.5, 0.9)])
    old, new = summarise([before, after], "linker")
    assert old["cpu_relative"]["consent"] == pytest.approx(2.0)
    assert new["cpu_relative"]["consent"] == pytest.approx(1.8)
    assert old["p50_ms"] == {"median": 200, "min": 100, "max": 300}
    assert new["p50_ms"] == {"median": 85, "min": 80, "max": 90}
    table = render(
        {"rate": 1000, "seconds": 10, "rounds": 2, "relative_to": "linker", "variants": [old, new]}
    )
    assert "consent ÷ linker" in table.splitlines()[2]
    assert (
        "| this checkout | 200 of 200 | 85 (80–90) | 170 (160–180) | 2.10 (1.40–2.80) "
        "| 1.80 | 1.00 |" in table
    )


def _git(folder: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(folder), *args],  # noqa: S607
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()


def _worktrees() -> str:
    return _git(HERE, "worktree", "list")


def test_a_ref_that_does_not_exist_is_refused_by_name_and_leaves_nothing_behind() -> None:
    before = _worktrees()
    with pytest.raises(CompareFailed, match="cannot check out no-such-ref"):
        compare("no-such-ref", rounds=1, run=lambda *_: pytest.fail("nothing to run"))
    assert _worktrees() == before


def test_the_ref_is_checked_out_apart_and_removed_afterwards() -> None:
    with checked_out("HEAD") as folder:
        assert (folder / "bench" / "latency.py").exists() and folder != HERE
        assert str(folder) in _worktrees()
        assert _git(folder, "rev-parse", "HEAD") == _git(HERE, "rev-parse", "HEAD")
    assert not folder.exists() and str(folder) not in _worktrees()


@pytest.mark.slow
def test_both_variants_run_the_real_benchmark_in_turns_and_see_every_alert() -> None:
    """A short real comparison (HEAD against this checkout): each run starts its own
    embedded broker and services from its own variant's folder."""
    order: list[str] = []

    def noted(folder: Path, rate: int, seconds: float) -> dict[str, Any]:
        from bench.compare import run_once

        order.append("ref" if folder != HERE else "here")
        return run_once(folder, rate, seconds)

    report = compare("HEAD", rate=20, seconds=2, rounds=1, run=noted)
    assert order == ["ref", "here"]
    for variant in report["variants"]:
        assert variant["alerts_seen"] == variant["records"] == [40]
        assert variant["p99_ms"]["median"] > 0 and variant["cpu_relative"]["linker"] == 1.0
