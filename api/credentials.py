"""Agency system credentials: random bearer tokens, stored only as SHA-256 hashes.

A token is 32 random bytes, so a plain SHA-256 is enough to make the stored hash
useless to a thief (unlike a person's password, it cannot be guessed).
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime

from sqlalchemy import Engine, select, update

from ehx.database import agency_credentials
from ehx.schemas import Agency
from ehx.schemas.vocabulary import Recipient

PREFIX = "ehx_"
#: A token's holder is a recipient (an agency, the MASH, the early help hub) or an
#: auditor, who reads the audit ledger and nothing else.
AUDITOR = "auditor"


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class AgencyCredentials:
    """Issue, check and revoke agency tokens."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def issue(self, agency: Agency | Recipient | str, label: str) -> str:
        """A new token for ``agency`` (or the MASH, the early help hub, ``AUDITOR``); shown once."""
        name = agency.value if isinstance(agency, Agency | Recipient) else agency
        token = PREFIX + name + "_" + secrets.token_urlsafe(32)
        with self._engine.begin() as connection:
            connection.execute(
                agency_credentials.insert().values(
                    token_hash=_hash(token),
                    agency=name,
                    label=label,
                    created_at=datetime.now(UTC),
                    revoked_at=None,
                )
            )
        return token

    def holder_for(self, token: str) -> Recipient | None:
        """Who a live token belongs to (an agency, the MASH or the early help hub), or None.

        An auditor's token holds no recipient: it is None here (see ``role_for``).
        """
        role = self.role_for(token)
        return Recipient(role) if role is not None and role != AUDITOR else None

    def role_for(self, token: str) -> str | None:
        """The holder's name as stored (a recipient's value or ``AUDITOR``), or None."""
        with self._engine.connect() as connection:
            row = connection.execute(
                select(agency_credentials.c.agency).where(
                    agency_credentials.c.token_hash == _hash(token),
                    agency_credentials.c.revoked_at.is_(None),
                )
            ).first()
        return str(row[0]) if row else None

    def revoke(self, token: str) -> bool:
        with self._engine.begin() as connection:
            result = connection.execute(
                update(agency_credentials)
                .where(agency_credentials.c.token_hash == _hash(token))
                .values(revoked_at=datetime.now(UTC))
            )
        return bool(result.rowcount)
