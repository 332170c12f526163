"""The SQLite database holds disclosures, data keys and password hashes: its files are the
owner's only, however the process's umask is set (security finding 6)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from sqlalchemy import text

from ehx.database import migrate, open_engine


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_the_database_its_log_and_a_folder_made_for_it_are_the_owners_only(
    tmp_path: Path,
) -> None:
    before = os.umask(0o022)  # the usual default: files 0644, folders 0755
    try:
        database = tmp_path / "data" / "ehx.db"
        engine = open_engine(f"sqlite:///{database}")
        migrate(engine)
        with engine.begin() as connection:  # a write, so the log and shared memory exist
            connection.execute(text("CREATE TABLE probe (x INTEGER)"))
            connection.execute(text("INSERT INTO probe VALUES (1)"))
        files = [database, Path(f"{database}-wal"), Path(f"{database}-shm")]
        assert all(f.exists() for f in files)
        assert {f.name: _mode(f) for f in files} == {f.name: 0o600 for f in files}
        assert _mode(database.parent) == 0o700
        engine.dispose()
    finally:
        os.umask(before)


def test_a_database_left_readable_by_an_older_run_is_narrowed(tmp_path: Path) -> None:
    database = tmp_path / "ehx.db"
    database.touch(mode=0o644)
    database.chmod(0o644)
    open_engine(f"sqlite:///{database}").dispose()
    assert _mode(database) == 0o600
