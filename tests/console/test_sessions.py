"""Console sessions kept on the server, on a clock the test moves."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, func, select

from ehx.console.sessions import Sessions
from ehx.database import console_sessions


def test_a_session_ends_at_sign_out_and_long_expired_ones_are_cleared(
    sqlite_engine: Engine,
) -> None:
    now = [datetime(2026, 12, 7, 8, tzinfo=UTC)]
    sessions = Sessions(sqlite_engine, timedelta(hours=8), lambda: now[0])
    monday = sessions.start("sw-1")
    assert sessions.who(monday) == "sw-1"
    sessions.end(monday)
    assert sessions.who(monday) is None

    now[0] += timedelta(days=2)
    tuesday = sessions.start("sw-1")
    with sqlite_engine.connect() as connection:
        kept = connection.execute(select(func.count()).select_from(console_sessions)).scalar()
    assert kept == 1 and sessions.who(tuesday) == "sw-1"
