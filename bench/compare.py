"""This checkout against another git ref: the latency benchmark alternated, side by side.

A change to the hot path saves a few per cent of one service, and these shared 2-core
machines move the same code's alert latency by a quarter between runs minutes apart
(docs/performance.md). So a change is measured against the code before it in the same
session: ``ehx bench-compare REF`` checks REF out into a scratch git worktree, then runs
the latency benchmark (``bench.latency.measure``, one process per service) in turns,
REF then this checkout, for several rounds. Each run is its own interpreter started in
its variant's folder, so the services it starts import that variant's code.

End to end, the p50 and p99 are reported, but the noise usually hides a cut of a few
per cent; each process's CPU a record divided by an unchanged process's in the same run
(``relative_to``, the linker by default) is the figure that shows it.
"""

from __future__ import annotations

import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.report import fmt, spread
from ehx.schemas import ExchangeError

#: This checkout: the folder that holds ``bench/``.
HERE = Path(__file__).resolve().parents[1]

#: What a variant's interpreter runs: the latency benchmark once, its figures as JSON.
_RUN = """
import asyncio, json, sys
from bench import latency
result = asyncio.run(latency.measure(int(sys.argv[1]), float(sys.argv[2]), separate=True))
keep = ("records", "alerts_seen", "p50_ms", "p99_ms", "max_ms", "cpu_ms_per_record")
print(json.dumps({k: result.get(k) for k in keep}))
"""


class CompareFailed(ExchangeError):
    """A variant could not be checked out or its run failed; says which and why."""


@dataclass
class Variant:
    """One side of the comparison: a name, its code's folder, and each round's figures."""

    name: str
    folder: Path
    runs: list[dict[str, Any]] = field(default_factory=list)


@contextlib.contextmanager
def checked_out(ref: str, repository: Path = HERE) -> Iterator[Path]:
    """``ref`` in a scratch git worktree (detached), removed again afterwards."""
    scratch = Path(tempfile.mkdtemp(prefix="ehx-compare-"))
    folder = scratch / "ref"
    added = subprocess.run(
        ["git", "-C", str(repository), "worktree", "add", "--detach", str(folder), ref],  # noqa: S607
        capture_output=True,
        text=True,
        check=False,
    )
    if added.returncode != 0:
        scratch.rmdir()
        raise CompareFailed(f"cannot check out {ref}: {added.stderr.strip()}")
    try:
        yield folder
    finally:
        subprocess.run(
            ["git", "-C", str(repository), "worktree", "remove", "--force", str(folder)],  # noqa: S607
            capture_output=True,
            check=False,
        )
        with contextlib.suppress(OSError):
            scratch.rmdir()


def run_once(folder: Path, rate: int, seconds: float) -> dict[str, Any]:
    """The latency benchmark once, on the code in ``folder``, in a fresh interpreter."""
    env = {**os.environ, "PYTHONPATH": str(folder)}
    done = subprocess.run(
        [sys.executable, "-c", _RUN, str(rate), str(seconds)],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise CompareFailed(f"the run on {folder} failed: {last}")
    result: dict[str, Any] = json.loads(lines[-1])
    return result


def compare(
    ref: str,
    rate: int = 1000,
    seconds: float = 10.0,
    rounds: int = 3,
    relative_to: str | None = "linker",
    say: Callable[[str], None] = lambda line: None,
    run: Callable[[Path, int, float], dict[str, Any]] = run_once,
) -> dict[str, Any]:
    """Alternate REF and this checkout ``rounds`` times; the summary ``summarise`` gives."""
    with checked_out(ref) as folder:
        variants = [Variant(ref, folder), Variant("this checkout", HERE)]
        for n in range(1, rounds + 1):
            for variant in variants:
                say(f"round {n} of {rounds}: {variant.name} at {rate}/s for {seconds:g} s")
                variant.runs.append(run(variant.folder, rate, seconds))
    return {
        "rate": rate,
        "seconds": seconds,
        "rounds": rounds,
        "relative_to": relative_to,
        "variants": summarise(variants, relative_to),
    }


def _median(values: Sequence[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return statistics.median(present) if present else None


def _spread(values: Sequence[float | None]) -> dict[str, float] | None:
    present = [v for v in values if v is not None]
    return spread(present) if present else None


def summarise(variants: Sequence[Variant], relative_to: str | None) -> list[dict[str, Any]]:
    """Each variant's figures over its rounds, and every round's figures as measured.

    The p50, the p99 and the CPU a record in all: median, min and max (``spread``); each
    process's CPU a record: its median.

    ``cpu_relative``: each process's CPU a record over ``relative_to``'s in the same run,
    then the median over rounds (a ratio within one run cancels the machine's drift).
    """
    out = []
    for variant in variants:
        processes = sorted({p for r in variant.runs for p in r["cpu_ms_per_record"]})
        cpu = {p: _median([r["cpu_ms_per_record"].get(p) for r in variant.runs]) for p in processes}
        relative: dict[str, float | None] = {}
        if relative_to:
            for process in processes:
                ratios = [
                    r["cpu_ms_per_record"].get(process) / r["cpu_ms_per_record"][relative_to]
                    for r in variant.runs
                    if r["cpu_ms_per_record"].get(relative_to)
                    and r["cpu_ms_per_record"].get(process) is not None
                ]
                relative[process] = _median(ratios)
        out.append(
            {
                "name": variant.name,
                "folder": str(variant.folder),
                "alerts_seen": [r["alerts_seen"] for r in variant.runs],
                "records": [r["records"] for r in variant.runs],
                "p50_ms": _spread([r["p50_ms"] for r in variant.runs]),
                "p99_ms": _spread([r["p99_ms"] for r in variant.runs]),
                "cpu_ms_per_record": cpu,
                "cpu_total": _spread([sum(r["cpu_ms_per_record"].values()) for r in variant.runs]),
                "cpu_relative": relative,
                "runs": variant.runs,
            }
        )
    return out


def render(report: dict[str, Any]) -> str:
    """The comparison as Markdown: one row a variant, medians over its rounds."""
    variants = report["variants"]
    processes = sorted({p for v in variants for p in v["cpu_ms_per_record"]})
    relative = report["relative_to"]
    header = ["variant", "alerts seen", "p50 ms", "p99 ms", "CPU ms a record"]
    header += [f"{p} ÷ {relative}" if relative else f"{p} ms" for p in processes]
    lines = [
        f"Latency benchmark at {report['rate']}/s for {report['seconds']:g} s, "
        f"{report['rounds']} rounds alternated; medians over the rounds (min–max).",
        "",
        "| " + " | ".join(header) + " |",
        "|" + "---|" * len(header),
    ]

    def cell(value: float | dict[str, float] | None, digits: int) -> str:
        if value is None:
            return "–"
        return fmt(value, digits) if isinstance(value, dict) else f"{value:,.{digits}f}"

    for v in variants:
        seen = f"{sum(v['alerts_seen']):,} of {sum(v['records']):,}"
        row = [v["name"], seen, cell(v["p50_ms"], 0), cell(v["p99_ms"], 0)]
        row.append(cell(v["cpu_total"], 2))
        source = v["cpu_relative"] if relative else v["cpu_ms_per_record"]
        row += [cell(source.get(p), 2 if relative else 3) for p in processes]
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines) + "\n"
