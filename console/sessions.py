"""The console's sessions, kept on the server so that signing out ends them.

The signed cookie carries a random token; the server keeps only its SHA-256 (a copy of
the table lets nobody sign in), when the session expires and when it was ended. Each
request asks ``who`` and gets the username only for a session that is neither ended nor
expired by ``clock``, which tests set instead of waiting hours.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, and_, delete, insert, select, update

from ehx.database import console_sessions

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _aware(moment: datetime) -> datetime:
    # SQLite hands back naive datetimes; every time stored here is UTC.
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


class Sessions:
    """Start, look up and end console sessions; ``clock`` says what time it is."""

    def __init__(self, engine: Engine, lifetime: timedelta, clock: Clock = utc_now) -> None:
        self.engine, self.lifetime, self.clock = engine, lifetime, clock

    def start(self, username: str) -> str:
        """A new session for ``username``; the token goes in the signed cookie, nowhere else."""
        token = secrets.token_urlsafe(32)
        now = self.clock()
        with self.engine.begin() as connection:
            # Sessions over for a day are of no further use: the table stays the size of
            # a day's sign-ins (the ledger, not this table, records who signed in).
            connection.execute(
                delete(console_sessions).where(
                    console_sessions.c.expires_at < now - timedelta(days=1)
                )
            )
            connection.execute(
                insert(console_sessions).values(
                    token_hash=_hash(token),
                    username=username,
                    started_at=now,
                    expires_at=now + self.lifetime,
                )
            )
        return token

    def who(self, token: str) -> str | None:
        """The username of a live session, or None (unknown, ended or expired)."""
        with self.engine.connect() as connection:
            row = connection.execute(
                select(console_sessions.c.username, console_sessions.c.expires_at).where(
                    and_(
                        console_sessions.c.token_hash == _hash(token),
                        console_sessions.c.ended_at.is_(None),
                    )
                )
            ).first()
        if row is None or _aware(row.expires_at) <= self.clock():
            return None
        return str(row.username)

    def end(self, token: str) -> None:
        """Sign out: the session is over, for this cookie and every copy of it."""
        with self.engine.begin() as connection:
            connection.execute(
                update(console_sessions)
                .where(console_sessions.c.token_hash == _hash(token))
                .values(ended_at=self.clock())
            )
