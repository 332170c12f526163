"""The services can run together or one per process (``ehx services --only``)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from broker.app import SERVICES, build_services
from database.settings import DatabaseSettings
from schemas import KeySettings, KeyStore


def services(tmp_path: Path, only: frozenset[str] | None) -> int:
    KeyStore(tmp_path / "keys").init()
    built = build_services(
        "127.0.0.1:9",  # never reached: nothing here starts the broker
        database=DatabaseSettings(database_url=f"sqlite:///{tmp_path / 'ehx.db'}"),
        keys=KeySettings(key_dir=tmp_path / "keys"),
        only=only,
    )
    try:
        return len(built.broker.subscribers)
    finally:
        built.close_database()


def test_each_service_can_run_alone_and_all_run_together(tmp_path: Path) -> None:
    alone = {name: services(tmp_path / name, frozenset({name})) for name in SERVICES}
    assert alone == {"intake": 1, "linker": 2, "consent": 2, "timeline": 1, "audit": 1}
    assert services(tmp_path / "all", None) == sum(alone.values())


def test_an_unknown_service_is_refused_by_name(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown service"):
        services(tmp_path, frozenset({"auditing"}))


def _priority_after(only: str, nice: str) -> tuple[int, int]:
    """In a fresh interpreter (a priority once lowered stays lowered): how much
    ``give_way`` lowered it, as it says and as the kernel says."""
    script = (
        "import os; from broker.app import give_way; before = os.getpriority(os.PRIO_PROCESS, 0);"
        f" said = give_way(frozenset({only!r}.split(',')) if {only!r} else None);"
        " print(said, os.getpriority(os.PRIO_PROCESS, 0) - before)"
    )
    env = {**os.environ, "EHX_BACKGROUND_NICE": nice}
    out = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True
    )
    said, measured = out.stdout.split()
    return int(said), int(measured)


def test_the_ledger_and_the_raw_store_give_way_to_the_alert_path_when_run_alone() -> None:
    assert _priority_after("audit", "10") == (10, 10)
    assert _priority_after("intake,audit", "10") == (10, 10)
    # A process with any service on the alert's path keeps its priority.
    assert _priority_after("consent", "10") == (0, 0)
    assert _priority_after("intake,linker", "10") == (0, 0)
    assert _priority_after("", "10") == (0, 0)  # all the services in one process
    # An operator who wants the ledger at full priority says so.
    assert _priority_after("audit", "0") == (0, 0)
