"""Agency system credentials: random bearer tokens, stored only as SHA-256 hashes.

A token is 32 random bytes, so a plain SHA-256 is enough to make the stored hash
useless to a thief (unlike a person's password, it cannot be guessed).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, or_, select, update

from ehx.database import agency_credentials
from ehx.organisations.directory import KIND_OF
from ehx.organisations.people import AUDITOR
from ehx.organisations.store import OrganisationStore
from ehx.schemas import Agency, ExchangeError
from ehx.schemas.vocabulary import Recipient

RECIPIENTS = frozenset(r.value for r in Recipient)

PREFIX = "ehx_"
#: A token's holder is a recipient (an agency, the MASH, the early help hub) or an
#: auditor (``AUDITOR``), who reads the audit ledger and nothing else.
#: How long a token lives unless its issuer says otherwise: a system's token is renewed
#: on a schedule, so one copied from a retired server stops working by itself.
DEFAULT_DAYS = 365
#: A token's public id: the start of its hash, enough to tell tokens apart, useless to
#: a thief. Listing and revoking use it; the token itself is never stored or shown again.
ID_LENGTH = 12


@dataclass(frozen=True)
class Credential:
    """One token as the operator sees it: never the token itself."""

    token_id: str
    holder: str
    organisation: str | None
    label: str
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None

    def state(self, now: datetime) -> str:
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at is not None and _aware(self.expires_at) <= now:
            return "expired"
        return "live"

    def as_dict(self, now: datetime) -> dict[str, str | None]:
        return {
            "id": self.token_id,
            "holder": self.holder,
            "organisation": self.organisation,
            "label": self.label,
            "created_at": _aware(self.created_at).isoformat(),
            "expires_at": _aware(self.expires_at).isoformat() if self.expires_at else None,
            "state": self.state(now),
        }


def _aware(at: datetime) -> datetime:
    return at if at.tzinfo else at.replace(tzinfo=UTC)


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class AgencyCredentials:
    """Issue, check and revoke agency tokens."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def issue(
        self,
        agency: Agency | Recipient | str,
        label: str,
        days: int = DEFAULT_DAYS,
        organisation: str | None = None,
    ) -> str:
        """A new token for ``agency`` (or the MASH, the early help hub, ``AUDITOR``),
        live for ``days``, acting as ``organisation`` (its code in the directory: a
        school's URN); shown once. ExchangeError for an organisation not in the
        directory."""
        name = agency.value if isinstance(agency, Agency | Recipient) else agency
        if organisation is not None:
            self._require_listed(name, organisation)
        token = PREFIX + name + "_" + secrets.token_urlsafe(32)
        now = datetime.now(UTC)
        with self._engine.begin() as connection:
            connection.execute(
                agency_credentials.insert().values(
                    token_hash=_hash(token),
                    agency=name,
                    label=label,
                    created_at=now,
                    expires_at=now + timedelta(days=days),
                    revoked_at=None,
                    organisation=organisation,
                )
            )
        return token

    def _require_listed(self, holder: str, code: str) -> None:
        kind = KIND_OF.get(Recipient(holder)) if holder in RECIPIENTS else None
        if kind is None:
            raise ExchangeError(f"a {holder} token belongs to no organisation")
        if OrganisationStore(self._engine).get(kind, code) is None:
            raise ExchangeError(
                f"no {kind.value} {code} in the directory: load it first "
                "(ehx organisations load FILE), or check the code (ehx organisations list)"
            )

    def listed(self) -> list[Credential]:
        """Every token ever issued, oldest first, by id: what it is for and its state."""
        c = agency_credentials.c
        with self._engine.connect() as connection:
            rows = connection.execute(
                select(
                    c.token_hash,
                    c.agency,
                    c.organisation,
                    c.label,
                    c.created_at,
                    c.expires_at,
                    c.revoked_at,
                ).order_by(c.created_at)
            ).all()
        return [
            Credential(
                row.token_hash[:ID_LENGTH],
                row.agency,
                row.organisation,
                row.label,
                row.created_at,
                row.expires_at,
                row.revoked_at,
            )
            for row in rows
        ]

    def revoke_by(self, id_or_label: str) -> list[Credential]:
        """Revoke the live token with this id, or else every live token with this label
        (a retired system's tokens); return what was revoked."""
        now = datetime.now(UTC)
        live = [t for t in self.listed() if t.state(now) == "live"]
        found = [t for t in live if t.token_id == id_or_label]
        if not found:
            found = [t for t in live if t.label == id_or_label]
        with self._engine.begin() as connection:
            for credential in found:
                connection.execute(
                    update(agency_credentials)
                    .where(agency_credentials.c.token_hash.startswith(credential.token_id))
                    .values(revoked_at=now)
                )
        return found

    def holder_for(self, token: str) -> Recipient | None:
        """Who a live token belongs to (an agency, the MASH or the early help hub), or None.

        An auditor's token holds no recipient: it is None here (see ``role_for``).
        """
        role = self.role_for(token)
        return Recipient(role) if role is not None and role != AUDITOR else None

    def role_for(self, token: str) -> str | None:
        """The holder's name as stored (a recipient's value or ``AUDITOR``), or None."""
        found = self.lookup(token)
        return found[0] if found else None

    def lookup(self, token: str) -> tuple[str, str | None] | None:
        """A live token's holder and organisation code (None for a type-wide token)."""
        with self._engine.connect() as connection:
            row = connection.execute(
                select(agency_credentials.c.agency, agency_credentials.c.organisation).where(
                    agency_credentials.c.token_hash == _hash(token),
                    agency_credentials.c.revoked_at.is_(None),
                    or_(
                        agency_credentials.c.expires_at.is_(None),
                        agency_credentials.c.expires_at > datetime.now(UTC),
                    ),
                )
            ).first()
        return (str(row[0]), row[1]) if row else None

    def revoke(self, token: str) -> bool:
        with self._engine.begin() as connection:
            result = connection.execute(
                update(agency_credentials)
                .where(agency_credentials.c.token_hash == _hash(token))
                .values(revoked_at=datetime.now(UTC))
            )
        return bool(result.rowcount)
