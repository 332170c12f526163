"""Rows written by the bulk path are stored exactly as SQLAlchemy would store them."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import orjson
import pytest
from sqlalchemy import (
    JSON,
    Column,
    DateTime,
    Engine,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    insert,
    select,
)
from sqlalchemy.dialects import sqlite

from ehx.database import bulk, open_engine
from ehx.database.bulk import execute_many
from ehx.database.upsert import upsert


def _table(metadata: MetaData, name: str, *extra: Column[Any]) -> Table:
    return Table(
        name,
        metadata,
        Column("id", Integer, primary_key=True, autoincrement=False),
        Column("label", String(40)),
        Column("at", DateTime(timezone=True)),
        Column("body", JSON),
        Column("blob", LargeBinary),
        *extra,
    )


ROWS: list[dict[str, Any]] = [
    {
        "id": 1,
        "label": "plain",
        "at": datetime(2026, 11, 25, 8, 30, tzinfo=UTC),
        "body": {"a": [1, 2], "b": "é"},
        "blob": b"\x00\x01binary",
    },
    {
        "id": 2,
        "label": None,
        "at": datetime(2026, 11, 25, 8, 30, 0, 123456, tzinfo=timezone(timedelta(hours=1))),
        "body": orjson.Fragment(b'{"already":"json"}'),
        "blob": None,
    },
    {"id": 3, "label": "nulls", "at": None, "body": None, "blob": b""},
]


@pytest.fixture
def scratch(tmp_path: Path) -> Iterator[Engine]:
    engine = open_engine(f"sqlite:///{tmp_path / 'bulk.db'}")
    yield engine
    engine.dispose()


def _stored(engine: Engine, name: str) -> list[tuple[Any, ...]]:
    with engine.connect() as connection:
        # Raw, as SQLite holds them: no result processing between the file and the test.
        return list(connection.exec_driver_sql(f"SELECT * FROM {name} ORDER BY id"))  # noqa: S608


def test_the_same_bytes_on_disk_as_through_sqlalchemy_and_the_same_values_read_back(
    scratch: Engine,
) -> None:
    metadata = MetaData()
    ours, theirs = _table(metadata, "ours"), _table(metadata, "theirs")
    metadata.create_all(scratch)
    with scratch.begin() as connection:
        execute_many(connection, insert(ours), ROWS, "test-ours")
        connection.execute(insert(theirs), ROWS)

    assert bulk._shapes[("test-ours", tuple(ROWS[0]))] is not None  # the bulk path ran
    assert _stored(scratch, "ours") == _stored(scratch, "theirs")
    with scratch.connect() as connection:
        read = [dict(r._mapping) for r in connection.execute(select(ours).order_by(ours.c.id))]
    assert read[1]["body"] == {"already": "json"}
    assert read[0]["blob"] == b"\x00\x01binary"


def test_a_column_default_the_rows_leave_out_is_still_applied(scratch: Engine) -> None:
    metadata = MetaData()
    table = _table(metadata, "defaulted", Column("stamped", String(10), default="by-default"))
    metadata.create_all(scratch)
    with scratch.begin() as connection:
        execute_many(connection, insert(table), ROWS, "test-defaulted")
    with scratch.connect() as connection:
        assert list(connection.execute(select(table.c.stamped)).scalars()) == ["by-default"] * 3


def test_an_upsert_replaces_what_is_there_and_keeps_the_rest(scratch: Engine) -> None:
    metadata = MetaData()
    table = _table(metadata, "upserted")
    metadata.create_all(scratch)
    with scratch.begin() as connection:
        upsert(connection, table, ROWS, ["id"])
        upsert(connection, table, [{**ROWS[0], "label": "second"}], ["id"])
    with scratch.connect() as connection:
        labels = dict(connection.execute(select(table.c.id, table.c.label)).all())
    assert labels == {1: "second", 2: None, 3: "nulls"}


def test_a_statement_that_conflicts_still_fails_inside_the_callers_transaction(
    scratch: Engine,
) -> None:
    metadata = MetaData()
    table = _table(metadata, "strict")
    metadata.create_all(scratch)
    rows = [{"id": 1, "label": "a"}, {"id": 1, "label": "again"}]
    with pytest.raises(Exception, match="UNIQUE"), scratch.begin() as connection:
        execute_many(connection, insert(table), rows, "test-strict")
    assert _stored(scratch, "strict") == []  # rolled back: nothing half-written
    with scratch.begin() as connection:  # the insert-or-ignore form skips the duplicate
        execute_many(
            connection,
            sqlite.insert(table).on_conflict_do_nothing(),
            rows,
            "test-strict-ignore",
        )
    assert [r[1] for r in _stored(scratch, "strict")] == ["a"]
