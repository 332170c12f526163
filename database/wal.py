"""SQLite's write-ahead log checkpointed by a thread of its own, not by whichever commit fills it.

In WAL mode SQLite copies the log back into the database file (a checkpoint) from inside
the commit that takes the log past 1,000 pages, and with ``synchronous=NORMAL`` that is
also when it syncs both files to disk. On the alert path that commit is a service's
batch: at 1,000 records/s one every half second or so, each a wait on the disk in the
middle of a batch that the records behind it then wait out. With this, a service's
connections never checkpoint as they commit; a thread of the process does it every
``wal_checkpoint_seconds`` (half a second by default), in ``PASSIVE`` mode, which never
waits for a writer or a reader and never makes them wait. sqlite3 lets go of the
interpreter while it works, so the service's own threads carry on meanwhile.

It is the embedded default's one tuning setting (``EHX_WAL_CHECKPOINT_SECONDS``):
production runs PostgreSQL, where it does nothing. The figures: docs/performance.md.

Nothing committed is less durable: a commit is on disk once a checkpoint has synced
the log (or the operating system has written it), as before, and now that happens every
half second while a service runs, where a quiet service's log could wait minutes to
fill. The services and the API (with the console) checkpoint this way; the CLI keeps
SQLite's own checkpoints as it commits.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from typing import Any

from sqlalchemy import Engine, event

from ehx.database.settings import DatabaseSettings

log = logging.getLogger("ehx.database")


class WalCheckpointer:
    """Checkpoints one SQLite file's log every ``every`` seconds until stopped."""

    def __init__(self, path: str, every: float) -> None:
        self.path = path
        self.every = every
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="ehx-wal-checkpoints", daemon=True)

    def start(self) -> WalCheckpointer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5 + self.every)

    def _run(self) -> None:
        # A connection of its own (the engine's pool is the service's), never waiting on
        # a lock: PASSIVE gives up on what it cannot copy and the next turn takes it up.
        connection = sqlite3.connect(self.path, timeout=0, check_same_thread=False)
        try:
            while not self._stopping.wait(self.every):
                try:
                    connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
                except sqlite3.Error as exc:  # the file is busy or gone: try next turn
                    log.debug("WAL checkpoint skipped: %s", type(exc).__name__)
        finally:
            connection.close()


def checkpoint_in_background(engine: Engine, every: float | None = None) -> WalCheckpointer | None:
    """Take checkpoints out of ``engine``'s commits and into a thread (SQLite files only).

    ``every``: seconds between checkpoints; by default ``EHX_WAL_CHECKPOINT_SECONDS``.
    Call before the engine's connections do any work: the pool is emptied, so that every
    connection from now on is made with SQLite's own checkpoints turned off. Stop the
    returned checkpointer when the process stops. ``None`` for PostgreSQL and in-memory
    SQLite, which need none.
    """
    if every is None:
        every = DatabaseSettings().wal_checkpoint_seconds
    path = engine.url.database
    if engine.dialect.name != "sqlite" or not path or path == ":memory:" or every <= 0:
        return None

    @event.listens_for(engine, "connect")
    def _no_checkpoints_on_commit(connection: Any, _record: Any) -> None:
        cursor = connection.cursor()
        cursor.execute("PRAGMA wal_autocheckpoint=0")
        cursor.close()

    engine.dispose()  # connections made before this checkpoint as they commit
    return WalCheckpointer(path, every).start()
