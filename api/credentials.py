"""Agency system credentials: random bearer tokens, stored only as SHA-256 hashes.

A token is 32 random bytes, so a plain SHA-256 is enough to make the stored hash
useless to a thief (unlike a person's password, it cannot be guessed).
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime

from sqlalchemy import Engine, select, update

from broker.topics import Recipient
from database import agency_credentials
from schemas import Agency

PREFIX = "ehx_"


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class AgencyCredentials:
    """Issue, check and revoke agency tokens."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def issue(self, agency: Agency | Recipient, label: str) -> str:
        """A new token for ``agency`` (or the MASH, or the early help hub); shown once."""
        token = PREFIX + agency.value + "_" + secrets.token_urlsafe(32)
        with self._engine.begin() as connection:
            connection.execute(
                agency_credentials.insert().values(
                    token_hash=_hash(token),
                    agency=agency.value,
                    label=label,
                    created_at=datetime.now(UTC),
                    revoked_at=None,
                )
            )
        return token

    def holder_for(self, token: str) -> Recipient | None:
        """Who a live token belongs to (an agency, the MASH or the early help hub), or None."""
        with self._engine.connect() as connection:
            row = connection.execute(
                select(agency_credentials.c.agency).where(
                    agency_credentials.c.token_hash == _hash(token),
                    agency_credentials.c.revoked_at.is_(None),
                )
            ).first()
        return Recipient(row[0]) if row else None

    def revoke(self, token: str) -> bool:
        with self._engine.begin() as connection:
            result = connection.execute(
                update(agency_credentials)
                .where(agency_credentials.c.token_hash == _hash(token))
                .values(revoked_at=datetime.now(UTC))
            )
        return bool(result.rowcount)
