"""Medians with min and max over repetitions, and the Markdown table kept in the repo."""

from __future__ import annotations

import os
import platform
import statistics
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time a process has used so far (0 if it has gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def spread(values: list[float]) -> dict[str, float]:
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def speed_probe() -> float:
    """Milliseconds of CPU a fixed pure-Python loop takes here now (median of three).

    These machines are shared: the same code has run a third to twice as slow an hour
    later. A figure's probe says how fast the machine was when it was measured.
    """
    times = []
    for _ in range(3):
        started = time.process_time()
        total = 0
        for n in range(2_000_000):
            total += n
        times.append(time.process_time() - started)
    return round(1000 * statistics.median(times), 1)


def machine() -> dict[str, Any]:
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "speed_probe_ms": speed_probe(),
    }


def fmt(value: dict[str, float], digits: int = 0) -> str:
    return f"{value['median']:,.{digits}f} ({value['min']:,.{digits}f}–{value['max']:,.{digits}f})"
