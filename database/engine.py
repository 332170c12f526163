"""Opening the database: one engine per process, migrated to the latest schema."""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
from alembic import command
from alembic.config import Config
from pydantic import BaseModel
from sqlalchemy import Engine, create_engine, event, text

from ehx.database.settings import DatabaseSettings

MIGRATIONS = Path(__file__).parent / "migrations"


def _json(value: Any) -> str:
    # orjson: several times the standard library's speed on the hot JSON columns (the
    # timeline's views, the registry's event ids); string keys as json.dumps makes them.
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()


def open_engine(url: str | None = None) -> Engine:
    """An engine for ``url`` (or the configured database), SQLite tuned for several writers."""
    url = url or DatabaseSettings().url
    json_options: dict[str, Any] = {"json_serializer": _json, "json_deserializer": orjson.loads}
    if url.startswith("sqlite"):
        path = url.removeprefix("sqlite:///")
        if path and path != ":memory:":
            private_database_file(Path(path))
        engine = create_engine(url, connect_args={"timeout": 30}, **json_options)

        @event.listens_for(engine, "connect")
        def _pragmas(connection: Any, _record: Any) -> None:
            # WAL lets the CLI read while the services write; the busy timeout makes
            # concurrent writers wait for each other instead of failing.
            cursor = connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        return engine
    return create_engine(url, pool_pre_ping=True, **json_options)


def private_database_file(path: Path) -> None:
    """Make the SQLite file readable and writable by its owner only, before SQLite opens it.

    It holds disclosures, data keys and password hashes. SQLite gives its write-ahead log
    and shared-memory files the database file's mode, so they follow; a folder made here
    for it is the owner's only. Files of an older run are narrowed too.
    """
    if not path.parent.exists():
        # mkdir's mode is not applied to the parents it makes: make each one.
        for folder in reversed((path.parent, *path.parent.parents)):
            if not folder.exists():
                folder.mkdir(mode=0o700)
    # Created only if it is not there: closing a descriptor of a file that SQLite already
    # has open in this process would drop every POSIX lock SQLite holds on it.
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
    for file in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        # Another account's file (a shared deployment's) is left as its owner set it.
        if file.exists() and file.stat().st_uid == os.getuid():
            file.chmod(0o600)


def migrate(engine: Engine) -> None:
    """Bring the database to the latest schema (Alembic ``upgrade head``).

    Safe to call from several processes at once (``ehx up`` starts a process per service,
    and so may a deployment): one upgrades while the others wait, then find it done.
    """
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with _migration_lock(engine), engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


#: The PostgreSQL advisory lock key migrations take (any constant shared by all).
MIGRATION_LOCK = 0x65687800


@contextlib.contextmanager
def _migration_lock(engine: Engine) -> Iterator[None]:
    if engine.dialect.name == "postgresql":
        with engine.connect() as holder:
            holder.execute(text("SELECT pg_advisory_lock(:key)"), {"key": MIGRATION_LOCK})
            try:
                yield
            finally:
                holder.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": MIGRATION_LOCK})
                holder.commit()
        return
    path = engine.url.database
    if engine.dialect.name != "sqlite" or not path or path == ":memory:":
        yield  # one process's own database
        return
    with open(f"{path}.migrating", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def json_column(value: BaseModel | bytes) -> orjson.Fragment:
    """A model, or JSON already serialised, as a JSON column's value, serialised once.

    A model: the same JSON as ``model.model_dump(mode="json")`` through the engine's
    serialiser, by pydantic, for a third of the cost (that pair was a tenth of the consent
    service's time). Bytes: kept as they are, for a message stored as it arrived.
    """
    if isinstance(value, bytes):
        return orjson.Fragment(value)
    return orjson.Fragment(value.model_dump_json())
