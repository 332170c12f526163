"""A service's commits leave SQLite's log to a checkpointing thread (``database/wal.py``)."""

from __future__ import annotations

import contextlib
import os
import sqlite3
from pathlib import Path

from sqlalchemy import Engine, text

from ehx.database import checkpoint_in_background, open_engine
from tests.conftest import eventually_now

#: Rows of about 4 KB: 3,000 of them fill the log well past SQLite's own 1,000 pages.
ROW = "x" * 4000
ROWS = 3000


def _write(engine: Engine) -> None:
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE IF NOT EXISTS t (n INTEGER, body TEXT)"))
    for start in range(0, ROWS, 100):  # commits of 100 rows, as batches commit
        with engine.begin() as connection:
            connection.execute(
                text("INSERT INTO t VALUES (:n, :body)"),
                [{"n": n, "body": ROW} for n in range(start, start + 100)],
            )


def _log_frames(path: Path) -> int:
    """How many frames the log holds now (a checkpoint reports it as it runs)."""
    with contextlib.closing(sqlite3.connect(path)) as probe:
        _busy, frames, _copied = probe.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
    return int(frames)


def test_the_services_commits_no_longer_checkpoint_the_log(tmp_path: Path) -> None:
    engine = open_engine(f"sqlite:///{tmp_path / 'ehx.db'}")
    checkpoints = checkpoint_in_background(engine, every=3600)  # never, in this test
    assert checkpoints is not None
    try:
        _write(engine)
        # Checkpointed on commit, the log would have started again at 1,000 pages.
        assert _log_frames(tmp_path / "ehx.db") > 2 * 1000
    finally:
        checkpoints.stop()
        engine.dispose()


def test_the_thread_copies_the_log_into_the_database_file(tmp_path: Path) -> None:
    database = tmp_path / "ehx.db"
    engine = open_engine(f"sqlite:///{database}")
    checkpoints = checkpoint_in_background(engine, every=0.05)
    assert checkpoints is not None
    try:
        _write(engine)
        # Only a checkpoint writes the database file itself: the rows' 12 MB get there.
        eventually_now(lambda: os.path.getsize(database) >= ROWS * len(ROW), 10, every=0.05)
    finally:
        checkpoints.stop()
        engine.dispose()
    with sqlite3.connect(database) as reader:
        assert reader.execute("SELECT count(*) FROM t").fetchone() == (ROWS,)


def test_commits_checkpoint_as_before_without_it(tmp_path: Path) -> None:
    # The control for the first test: the same writes, SQLite's own checkpoints.
    engine = open_engine(f"sqlite:///{tmp_path / 'ehx.db'}")
    try:
        _write(engine)
        assert _log_frames(tmp_path / "ehx.db") < 2 * 1000
    finally:
        engine.dispose()


def test_postgresql_and_memory_databases_need_no_thread(tmp_path: Path) -> None:
    assert checkpoint_in_background(open_engine("sqlite:///:memory:"), every=0.5) is None
    engine = open_engine(f"sqlite:///{tmp_path / 'ehx.db'}")
    assert checkpoint_in_background(engine, every=0) is None  # 0: left to the commits
    engine.dispose()
