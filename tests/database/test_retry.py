"""A store write after publishing waits out an unreachable database, and only that."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import IntegrityError, OperationalError

from ehx.database import retry
from ehx.database.retry import store_after_publish


@pytest.fixture(autouse=True)
def quick(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(retry, "FIRST_WAIT", 0.01)
    monkeypatch.setattr(retry, "LONGEST_WAIT", 0.02)


def test_a_write_waits_until_the_database_is_there_and_is_made_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # A real driver's OperationalError: SQLite cannot open a file in a missing folder.
    folder = tmp_path / "not-yet"
    engine = create_engine(f"sqlite:///{folder / 'ehx.db'}")
    attempts = []

    def write() -> None:
        attempts.append(1)
        if len(attempts) == 3:
            folder.mkdir()  # the database comes back
        with engine.begin() as connection:
            connection.execute(text("CREATE TABLE IF NOT EXISTS t (n INTEGER)"))
            connection.execute(text("INSERT INTO t VALUES (1)"))

    asyncio.run(store_after_publish(write, what="test"))
    assert len(attempts) == 3
    assert "database unreachable (OperationalError)" in caplog.text
    assert "not-yet" not in caplog.text  # the driver's message, with the path, stays out
    with engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM t")).scalar_one() == 1


def test_a_write_that_committed_before_the_connection_dropped_is_not_made_again() -> None:
    stored: list[int] = []

    def write() -> None:
        if not stored:
            stored.append(1)  # committed; then the answer is lost
            raise OperationalError("COMMIT", {}, ConnectionError("server closed the connection"))
        stored.append(1)

    asyncio.run(store_after_publish(write, what="test", done=lambda: bool(stored)))
    assert stored == [1]


def test_it_gives_up_after_its_time_so_the_batch_is_replayed() -> None:
    def write() -> None:
        raise OperationalError("INSERT", {}, ConnectionError("connection refused"))

    with pytest.raises(OperationalError):
        asyncio.run(store_after_publish(write, what="test", within=0.05))


def test_other_errors_are_not_waited_out() -> None:
    attempts = []

    def write() -> None:
        attempts.append(1)
        raise IntegrityError("INSERT", {}, ValueError("duplicate key"))

    with pytest.raises(IntegrityError):
        asyncio.run(store_after_publish(write, what="test"))
    assert attempts == [1]
