"""The services on the session's real broker, over SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from ehx.broker.admin import apply_topology
from ehx.broker.settings import BrokerSettings
from ehx.database.settings import DatabaseSettings
from ehx.schemas import KeySettings, KeyStore
from ehx.services import build_services


@pytest.fixture
async def pipeline(
    kafka_bootstrap: str, engine: Engine, tmp_path: Path
) -> AsyncIterator[tuple[str, Engine, KeyStore]]:
    settings = BrokerSettings()
    await apply_topology(kafka_bootstrap, settings)
    keys = KeyStore(tmp_path / "keys")
    keys.init()
    services = build_services(
        kafka_bootstrap,
        settings,
        DatabaseSettings(database_url=engine.url.render_as_string(hide_password=False)),
        KeySettings(key_dir=tmp_path / "keys"),
        session_timeout_ms=6000,
    )
    await services.start()
    try:
        yield kafka_bootstrap, engine, keys
    finally:
        await services.stop()
        services.close_database()
