"""People of the exchange's organisations: one role each, passwords hashed with Argon2id.

Roles, and what each may do (separation of duties: none of them both reads families
and administers accounts, and nobody countersigns their own assertion or override):

- ``screener`` (MASH): the alert queue, any family's MASH view, screening decisions;
- ``manager`` (MASH): as a screener, and alone closes a significant-harm alert with no
  further action, or countersigns or reverses an override;
- ``practitioner``: one organisation's view of a family (a school's, a trust's, a
  landlord's, the police's or the early help hub's), nothing else; an early help
  practitioner also sees the alert queue (the hub screens early help);
- ``encompass_officer`` (the local authority): the Operation Encompass notifications
  no school has met (a child on no roll we hold, or escalated past the school's deputy),
  and acknowledges them; no family's timeline;
- ``auditor`` and ``dpo``: the audit pages, no family's content (the DPO also withdraws
  any consent);
- ``admin``: the list of accounts; no family's content, no audit.

A practitioner of a school, trust or landlord names it (``organisation``, its code in
the directory) and reads only the people it serves. The same accounts are who an API
token's ``reader=`` and the command line's ``--by`` may name (``Accounts.acting``): a
live account of the organisation the token or view acts for, recorded as such.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Engine, insert, select, update

from ehx.database import console_people
from ehx.organisations.directory import KIND_OF, Kind
from ehx.organisations.store import OrganisationStore
from ehx.schemas import ExchangeError
from ehx.schemas.vocabulary import SERVING_KINDS, Addressee, Recipient

#: What an auditor's or the DPO's account acts for: what their API token is called.
AUDITOR = "auditor"
#: What the local authority's Operation Encompass officer acts for.
LOCAL_AUTHORITY = Kind.LOCAL_AUTHORITY.value


class Role(StrEnum):
    SCREENER = "screener"
    #: A MASH manager: screens like a screener, and alone closes a significant-harm
    #: alert with no further action, or countersigns or reverses an override.
    MANAGER = "manager"
    PRACTITIONER = "practitioner"
    AUDITOR = "auditor"
    #: The data protection officer: the audit pages, and may withdraw any consent.
    DPO = "dpo"
    #: The local authority's Operation Encompass officer: works the notifications no
    #: school has met (docs/usage.md).
    ENCOMPASS_OFFICER = "encompass_officer"
    ADMIN = "admin"


class AccountError(ExchangeError):
    """An account that cannot be made as asked (the message says why)."""


@dataclass(frozen=True)
class Account:
    username: str
    role: Role
    #: The recipient view this person reads family timelines as, if any.
    view: Recipient | None
    #: The organisation they work for, by its code in the directory (a school's URN).
    organisation: str | None = None

    @property
    def screens(self) -> bool:
        """May see the alert queue and record screening decisions."""
        return self.role in (Role.SCREENER, Role.MANAGER) or self.view is Recipient.EARLY_HELP

    @property
    def team(self) -> Recipient | None:
        """The team this person screens for: a screener the MASH's; a practitioner their view's."""
        return Recipient.MASH if self.role in (Role.SCREENER, Role.MANAGER) else self.view

    @property
    def reads_families(self) -> bool:
        return self.view is not None

    @property
    def audits(self) -> bool:
        return self.role in (Role.AUDITOR, Role.DPO)

    @property
    def acknowledges_encompass(self) -> bool:
        """Works Operation Encompass notifications: a school's people (their pupils'), and
        the local authority's officer (those no school has met)."""
        if self.role is Role.ENCOMPASS_OFFICER:
            return True
        return self.view is Recipient.SCHOOLS and self.organisation is not None

    @property
    def acts_for(self) -> str | None:
        """Whom this person reads and acts for, as a token of theirs would: ``mash``,
        ``early_help``, ``police``, one organisation (``school:103291``), ``auditor``,
        ``local_authority``; None for an administrator, or a practitioner of a school,
        trust or landlord whose account names none."""
        if self.role in (Role.SCREENER, Role.MANAGER):
            return Recipient.MASH.value
        if self.audits:
            return AUDITOR
        if self.role is Role.ENCOMPASS_OFFICER:
            return LOCAL_AUTHORITY
        if self.view in SERVING_KINDS:
            return str(Addressee(self.view, self.organisation)) if self.organisation else None
        return self.view.value if self.view else None

    @property
    def role_name(self) -> str:
        """The role as the audit ledger records it."""
        if self.role is Role.SCREENER:
            return "mash_screener"
        if self.role is Role.MANAGER:
            return "mash_manager"
        if self.role is Role.DPO:
            return "data_protection_officer"
        if self.role is Role.ENCOMPASS_OFFICER:
            return "local_authority_encompass_officer"
        if self.role is Role.PRACTITIONER and self.view is not None:
            return f"{self.view.value}_practitioner"
        return self.role.value


_hasher = PasswordHasher()
#: Checked when the user is unknown too, so the time taken does not say who exists.
_DUMMY = _hasher.hash("not a password anyone has")
#: The password hash of an account made by single sign-on: no password opens it.
SIGNED_ON = "signed-on:no-password"
MIN_PASSWORD = 12


def _view_for(role: Role, view: Recipient | None) -> Recipient | None:
    if role in (Role.SCREENER, Role.MANAGER):
        return Recipient.MASH
    if role is Role.PRACTITIONER:
        if view is None or view is Recipient.MASH:
            raise AccountError(
                "a practitioner reads one agency's view (or early_help): say which with --view"
            )
        return view
    return None


class Accounts:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def add(
        self,
        username: str,
        role: Role,
        password: str,
        view: Recipient | None = None,
        organisation: str | None = None,
    ) -> Account:
        """A new account; ``organisation`` must be in the directory, of the view's kind."""
        if len(password) < MIN_PASSWORD:
            raise AccountError(f"a password needs at least {MIN_PASSWORD} characters")
        account = Account(username, role, _view_for(role, view), organisation)
        if organisation is not None:
            self._require_listed(account)
        with self._engine.begin() as connection:
            exists = connection.execute(
                select(console_people.c.username).where(console_people.c.username == username)
            ).first()
            if exists:
                raise AccountError(f"there is already an account called {username!r}")
            connection.execute(
                insert(console_people).values(
                    username=username,
                    role=role.value,
                    view=account.view.value if account.view else None,
                    organisation=organisation,
                    password_hash=_hasher.hash(password),
                    created_at=datetime.now(UTC),
                )
            )
        return account

    def signed_on(self, claimed: Account) -> Account:
        """The account of someone their identity provider just signed in, made or brought
        up to date from what its claims say (``claimed``). AccountError for a disabled
        account, for a built-in one (it signs in with its password, never through the
        provider), and for an organisation the directory does not know."""
        username, role, organisation = claimed.username, claimed.role, claimed.organisation
        account = Account(username, role, _view_for(role, claimed.view), organisation)
        if organisation is not None:
            self._require_listed(account)
        with self._engine.begin() as connection:
            row = connection.execute(
                select(console_people.c.password_hash, console_people.c.disabled_at).where(
                    console_people.c.username == username
                )
            ).first()
            values = {
                "role": role.value,
                "view": account.view.value if account.view else None,
                "organisation": organisation,
            }
            if row is None:
                connection.execute(
                    insert(console_people).values(
                        username=username,
                        password_hash=SIGNED_ON,
                        created_at=datetime.now(UTC),
                        **values,
                    )
                )
            elif row.disabled_at is not None:
                raise AccountError(f"the console account {username!r} is disabled")
            elif row.password_hash != SIGNED_ON:
                raise AccountError(
                    f"{username!r} is a built-in account: it signs in with its password"
                )
            else:
                connection.execute(
                    update(console_people)
                    .where(console_people.c.username == username)
                    .values(**values)
                )
        return account

    def _require_listed(self, account: Account) -> None:
        kind = KIND_OF.get(account.view) if account.view else None
        code = account.organisation or ""
        if kind is None or OrganisationStore(self._engine).get(kind, code) is None:
            raise AccountError(
                f"no {kind.value if kind else 'organisation'} {code} in the directory "
                "for this view: ehx organisations list shows what is there"
            )

    def acting(self, username: str, *acts_for: str) -> Account:
        """The live account ``username`` if it acts for one of ``acts_for`` (see
        ``Account.acts_for``); AccountError, saying whose account would do, if there is
        none by that name, it is disabled, or it is another organisation's or role's."""
        row = self._live(username) if username else None
        account = self._account(row) if row else None
        if account is None or account.acts_for not in acts_for:
            whose = " or ".join(acts_for)
            raise AccountError(
                f"the person named is not a live account of {whose}: name someone with "
                f"an account of {whose} (ehx people list shows them; an administrator "
                "adds one with ehx people add)"
            )
        return account

    def check(self, username: str, password: str) -> Account | None:
        """The account if the password is right and the account is live; else None."""
        row = self._live(username)
        stored = row["password_hash"] if row else _DUMMY
        try:  # an account made by single sign-on has no password: as slow to say so
            _hasher.verify(_DUMMY if stored == SIGNED_ON else stored, password)
            if stored == SIGNED_ON:
                return None
        except (VerificationError, InvalidHashError):
            return None
        return self._account(row) if row else None

    def get(self, username: str) -> Account | None:
        """A live account by name (sessions are re-checked on each request)."""
        row = self._live(username)
        return self._account(row) if row else None

    def _live(self, username: str) -> Any:
        """The account's row unless it is disabled (or there is none)."""
        with self._engine.connect() as connection:
            return (
                connection.execute(
                    select(console_people).where(
                        console_people.c.username == username,
                        console_people.c.disabled_at.is_(None),
                    )
                )
                .mappings()
                .first()
            )

    def disable(self, username: str) -> bool:
        with self._engine.begin() as connection:
            result = connection.execute(
                update(console_people)
                .where(console_people.c.username == username)
                .values(disabled_at=datetime.now(UTC))
            )
        return bool(result.rowcount)

    def all(self) -> list[dict[str, object]]:
        with self._engine.connect() as connection:
            rows = connection.execute(
                select(
                    console_people.c.username,
                    console_people.c.role,
                    console_people.c.view,
                    console_people.c.organisation,
                    console_people.c.created_at,
                    console_people.c.disabled_at,
                ).order_by(console_people.c.username)
            ).mappings()
            return [dict(r) for r in rows]

    @staticmethod
    def _account(row: object) -> Account:
        data = dict(row)  # type: ignore[call-overload]
        view = Recipient(data["view"]) if data["view"] else None
        return Account(str(data["username"]), Role(data["role"]), view, data.get("organisation"))
