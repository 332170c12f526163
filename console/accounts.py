"""People who sign in to the console: one role each, passwords hashed with Argon2id.

Roles, and what each may do:

- ``screener`` (MASH): the alert queue, any family's MASH view, screening decisions;
- ``practitioner``: one agency's (or the early help hub's) view of a family, nothing else;
  an early help practitioner also sees the alert queue (the hub screens early help);
- ``auditor``: the audit pages (who saw a family, overrides, the ledger's state), no
  family's content;
- ``admin``: the list of accounts; no family's content, no audit.

A practitioner of the schools view names their school (``organisation``, its URN in the
directory) and reads only that school's pupils. The console reads no identity provider's
claims yet: single sign-on is the organisations issue's (docs/usage.md says how to run
behind a proxy meanwhile).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Engine, insert, select, update

from ehx.database import console_people
from ehx.organisations.directory import KIND_OF
from ehx.organisations.store import OrganisationStore
from ehx.schemas import ExchangeError
from ehx.schemas.vocabulary import Recipient


class Role(StrEnum):
    SCREENER = "screener"
    #: A MASH manager: screens like a screener, and alone closes a significant-harm
    #: alert with no further action, or countersigns or reverses an override.
    MANAGER = "manager"
    PRACTITIONER = "practitioner"
    AUDITOR = "auditor"
    #: The data protection officer: the audit pages, and may withdraw any consent.
    DPO = "dpo"
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
    def role_name(self) -> str:
        """The role as the audit ledger records it."""
        if self.role is Role.SCREENER:
            return "mash_screener"
        if self.role is Role.MANAGER:
            return "mash_manager"
        if self.role is Role.DPO:
            return "data_protection_officer"
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


@dataclass(frozen=True)
class Page:
    """Who may open a console page, in words and as a rule on their account."""

    who: str
    may: Callable[[Account], bool]


#: Who may open each console page: the one table the pages check, shown in
#: docs/security.md (a test holds the two equal, another opens each page as each role).
PAGES: dict[str, Page] = {
    "/": Page("MASH screeners and managers, and early help practitioners", lambda a: a.screens),
    "/families": Page("anyone with a recipient view, as that view", lambda a: a.reads_families),
    "/links": Page("MASH screeners and managers", lambda a: a.team is Recipient.MASH),
    "/audit": Page("auditors and the data protection officer", lambda a: a.audits),
    "/admin": Page("administrators", lambda a: a.role is Role.ADMIN),
}


def page_refusal(path: str, account: Account) -> str | None:
    """Why ``account`` may not open the page at ``path``, saying who may; or None."""
    page = PAGES[path]
    return None if page.may(account) else f"this page is for {page.who}"


def pages_table() -> str:
    """The page rules as ``docs/security.md`` shows them."""
    rows = ["| page | who may |", "|---|---|"]
    rows += [f"| `{path}` | {page.who} |" for path, page in PAGES.items()]
    return "\n".join(rows)
