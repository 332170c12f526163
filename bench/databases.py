"""The databases a storage benchmark runs on: a scratch SQLite file, and a scratch
PostgreSQL database (created on the server given, dropped afterwards)."""

from __future__ import annotations

import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url

from ehx.database import open_engine


@contextmanager
def scratch_databases(postgres_url: str | None) -> Iterator[Iterator[tuple[str, Engine]]]:
    """Yields an iterator of (name, engine): ``sqlite``, then ``postgresql`` if a URL is given.

    Each engine is disposed (and the PostgreSQL database dropped) when the block ends.
    """
    cleanups = []

    def engines() -> Iterator[tuple[str, Engine]]:
        scratch = tempfile.TemporaryDirectory()
        cleanups.append(scratch.cleanup)
        sqlite = open_engine(f"sqlite:///{Path(scratch.name) / 'bench.db'}")
        cleanups.append(sqlite.dispose)
        yield "sqlite", sqlite
        if postgres_url:
            name = f"ehx_bench_{uuid.uuid4().hex[:8]}"
            admin = open_engine(postgres_url).execution_options(isolation_level="AUTOCOMMIT")
            with admin.connect() as connection:
                connection.execute(text(f'CREATE DATABASE "{name}"'))

            def drop() -> None:
                with admin.connect() as connection:
                    connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
                admin.dispose()

            cleanups.append(drop)
            engine = open_engine(make_url(postgres_url).set(database=name).render_as_string(False))
            cleanups.append(engine.dispose)
            yield "postgresql", engine

    try:
        yield engines()
    finally:
        for cleanup in reversed(cleanups):
            cleanup()
