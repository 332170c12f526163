"""The database: settings, engine, tables and Alembic migrations (SQLite or PostgreSQL)."""

from database.engine import migrate, open_engine
from database.settings import DatabaseSettings
from database.tables import (
    agency_credentials,
    linker_mentions,
    metadata,
    received_events,
    source_records,
)

__all__ = [
    "DatabaseSettings",
    "agency_credentials",
    "linker_mentions",
    "metadata",
    "migrate",
    "open_engine",
    "received_events",
    "source_records",
]
