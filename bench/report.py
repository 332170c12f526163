"""Medians with min and max over repetitions, and the Markdown table kept in the repo."""

from __future__ import annotations

import os
import platform
import statistics
from datetime import UTC, datetime
from typing import Any


def spread(values: list[float]) -> dict[str, float]:
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def machine() -> dict[str, Any]:
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def fmt(value: dict[str, float], digits: int = 0) -> str:
    return f"{value['median']:,.{digits}f} ({value['min']:,.{digits}f}–{value['max']:,.{digits}f})"
