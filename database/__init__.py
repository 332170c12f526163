"""The database: settings, engine, tables and Alembic migrations (SQLite or PostgreSQL)."""

from database.engine import migrate, open_engine
from database.settings import DatabaseSettings
from database.tables import (
    access_notifications,
    agency_credentials,
    alerts,
    audit_checkpoints,
    audit_ledger,
    audit_subjects,
    consent_events,
    consent_records,
    console_people,
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
    "access_notifications",
    "agency_credentials",
    "alerts",
    "audit_checkpoints",
    "audit_ledger",
    "audit_subjects",
    "consent_events",
    "consent_records",
    "console_people",
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
