"""``ehx bench``: run the benchmarks and write ``docs/benchmarks.json`` and ``.md``."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.ingest import measure
from bench.records import write_file
from bench.report import fmt, machine, spread
from schemas import Agency

#: The ingest target of the adapters issue, for CSV and JSON Lines, on one core.
INGEST_TARGET = 5_000


def run_benchmarks(
    records: int = 100_000,
    repeat: int = 3,
    out: Path = Path("docs"),
    agencies: tuple[Agency, ...] = tuple(Agency),
    say: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Run every benchmark; write the JSON report and the Markdown table; return the report."""
    report: dict[str, Any] = {"machine": machine(), "records": records, "repeat": repeat}
    ingest: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as scratch:
        for agency in agencies:
            path = write_file(agency.value, records, Path(scratch))
            event_bytes = max(1, path.stat().st_size // records)
            runs = []
            for rep in range(repeat):
                say(f"ingest {agency.value}: run {rep + 1} of {repeat} ({records:,} records)")
                runs.append(measure(agency, path, records, event_bytes))
            rates = [r["ingest"]["records_per_second"] for r in runs]
            base = [r["baseline"]["records_per_second"] for r in runs]
            ingest[agency.value] = {
                "file_bytes": path.stat().st_size,
                "records_per_second": spread(rates),
                "baseline_records_per_second": spread(base),
                "ratio_to_baseline": spread([a / b for a, b in zip(rates, base, strict=True)]),
                "peak_rss_mb": spread([r["ingest"]["peak_rss_mb"] for r in runs]),
                "all_accepted": all(r["ingest"]["accepted"] == records for r in runs),
            }
    report["ingest"] = ingest
    out.mkdir(parents=True, exist_ok=True)
    (out / "benchmarks.json").write_text(json.dumps(report, indent=2) + "\n")
    (out / "benchmarks.md").write_text(markdown(report))
    return report


def markdown(report: dict[str, Any]) -> str:
    m = report["machine"]
    lines = [
        "# Benchmarks",
        "",
        f"Latest run: {m['when']}, {m['cpus']} CPUs, Python {m['python']}, {m['platform']}.",
        f"Reproduce with `ehx bench --records {report['records']} --repeat {report['repeat']}`"
        " (about ten minutes). Figures are medians over the repetitions, with min–max.",
        "",
        "## Ingest (`ehx ingest`: frame, validate, map, sign, publish, registry)",
        "",
        "One process, one core, the embedded broker on loopback. Baseline: a bare aiokafka",
        "producer sending the same number of messages of the same size to the same broker.",
        "",
        "| agency | records/s | baseline records/s | ratio | peak RSS MB | all accepted |",
        "|---|---|---|---|---|---|",
    ]
    for agency, row in report["ingest"].items():
        lines.append(
            f"| {agency} | {fmt(row['records_per_second'])} | "
            f"{fmt(row['baseline_records_per_second'])} | {fmt(row['ratio_to_baseline'], 2)} | "
            f"{fmt(row['peak_rss_mb'])} | {'yes' if row['all_accepted'] else 'NO'} |"
        )
    lines += [
        "",
        f"Target (adapters issue): at least {INGEST_TARGET:,} records/s for the CSV and JSON Lines",
        "formats (schools, police, housing).",
        "",
    ]
    return "\n".join(lines)
