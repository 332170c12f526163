"""Insert-or-ignore for idempotent consumers, on SQLite and PostgreSQL alike."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, Table
from sqlalchemy.dialects import postgresql, sqlite

from ehx.database.bulk import execute_many


def insert_ignoring_duplicates(
    connection: Connection, table: Table, rows: Sequence[dict[str, Any]], *, count: bool = True
) -> int:
    """Insert rows, skipping any whose primary key is already there; return rows inserted.

    ``count=False``: the caller needs no count, so the rows go in one ``executemany``
    (returns 0). A statement per row was a fifth of the consent service's time on a
    stream of new families (five data keys and an event row each).
    """
    if not rows:
        return 0
    dialect = connection.dialect.name
    if dialect == "sqlite":
        statement: Any = sqlite.insert(table).on_conflict_do_nothing()
    elif dialect == "postgresql":
        statement = postgresql.insert(table).on_conflict_do_nothing()
    else:  # pragma: no cover - the project supports the two above
        raise NotImplementedError(f"no insert-or-ignore for {dialect}")
    if not count:
        execute_many(connection, statement, rows, ("insert-or-ignore", table.name))
        return 0
    if connection.dialect.insert_returning:
        # RETURNING names the rows inserted (a duplicate skipped returns nothing), and
        # SQLAlchemy sends the batch as a few multi-row statements: PostgreSQL, and
        # SQLite from 3.35. It was one statement a row: most of the intake service's
        # store.
        key = list(table.primary_key.columns)
        return len(connection.execute(statement.returning(*key), list(rows)).all())
    inserted = 0
    # One statement per row: executemany reports no per-row counts on every driver.
    for row in rows:
        inserted += connection.execute(statement, row).rowcount or 0
    return inserted


def upsert(
    connection: Connection, table: Table, rows: Sequence[dict[str, Any]], keys: Sequence[str]
) -> None:
    """Insert rows, replacing the row already there with the same ``keys``."""
    if not rows:
        return
    dialect = connection.dialect.name
    module: Any = sqlite if dialect == "sqlite" else postgresql
    statement = module.insert(table)
    updates = {c: statement.excluded[c] for c in rows[0] if c not in keys}
    execute_many(
        connection,
        statement.on_conflict_do_update(index_elements=keys, set_=updates),
        rows,
        ("upsert", table.name, tuple(keys)),
    )
