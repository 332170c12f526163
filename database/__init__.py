"""The database: settings, engine, tables and Alembic migrations (SQLite or PostgreSQL)."""

from database.engine import migrate, open_engine
from database.settings import DatabaseSettings
from database.tables import (
    agency_credentials,
    alerts,
    consent_events,
    consent_records,
    data_keys,
    encompass_notifications,
    linker_mentions,
    metadata,
    received_events,
    sharing_decisions,
    source_records,
    timeline_entries,
    timeline_people,
)

__all__ = [
    "DatabaseSettings",
    "agency_credentials",
    "alerts",
    "consent_events",
    "consent_records",
    "data_keys",
    "encompass_notifications",
    "linker_mentions",
    "metadata",
    "migrate",
    "open_engine",
    "received_events",
    "sharing_decisions",
    "source_records",
    "timeline_entries",
    "timeline_people",
]
