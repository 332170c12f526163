"""Database settings: SQLite under the data directory unless ``EHX_DATABASE_URL`` says otherwise."""

from __future__ import annotations

from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict


class DatabaseSettings(BaseSettings):
    """Where the timeline, the record registry and the audit ledger are kept."""

    model_config = SettingsConfigDict(env_prefix="EHX_", frozen=True, extra="ignore")

    #: A SQLAlchemy URL, e.g. ``postgresql+psycopg://ehx@db/ehx``; empty means SQLite.
    database_url: str | None = None
    data_dir: Path = Path(".ehx")
    #: SQLite: how often a service's own thread checkpoints the write-ahead log, which
    #: its commits then never do (``database/wal.py``); 0 leaves it to the commits.
    wal_checkpoint_seconds: float = 0.5

    @property
    def url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'ehx.db').resolve()}"
