"""The services can run together or one per process (``ehx services --only``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ehx.database.settings import DatabaseSettings
from ehx.runtime import SERVICES
from ehx.schemas import KeySettings, KeyStore
from ehx.services import build_services


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
