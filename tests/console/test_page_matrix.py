"""Every console page opened by every kind of account, held to the page table (``PAGES``),
and the table in docs/security.md held to the one the pages check."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from sqlalchemy import Engine

from ehx.console.accounts import PAGES, pages_table
from ehx.organisations.people import Accounts, Role
from ehx.schemas import KeyStore
from ehx.schemas.vocabulary import Recipient
from tests.flows import YUSUFS_SCHOOL, directory_loaded, khans_on_file
from tests.serving import serve, signed_in

pytestmark = pytest.mark.kafka
PASSWORD = "correct horse battery staple"
SECURITY = Path(__file__).resolve().parents[2] / "docs" / "security.md"
#: Each kind of account: its role, and a practitioner's view and organisation.
KINDS = {
    "screener": (Role.SCREENER, None, None),
    "manager": (Role.MANAGER, None, None),
    "school DSL": (Role.PRACTITIONER, Recipient.SCHOOLS, YUSUFS_SCHOOL),
    "early help worker": (Role.PRACTITIONER, Recipient.EARLY_HELP, None),
    "auditor": (Role.AUDITOR, None, None),
    "data protection officer": (Role.DPO, None, None),
    "administrator": (Role.ADMIN, None, None),
}


def test_docs_security_shows_the_page_table_the_console_checks() -> None:
    assert pages_table() in SECURITY.read_text()


def test_every_page_opens_for_exactly_the_accounts_the_table_lets_in(
    kafka_bootstrap: str, sqlite_engine: Engine, keys: KeyStore
) -> None:
    khans_on_file(sqlite_engine)
    directory_loaded(sqlite_engine)
    accounts, run = Accounts(sqlite_engine), uuid.uuid4().hex[:6]
    names = {kind: f"{kind.split()[0]}-{run}" for kind in KINDS}
    made = {
        kind: accounts.add(names[kind], role, PASSWORD, view, organisation)
        for kind, (role, view, organisation) in KINDS.items()
    }
    wrong = []
    with serve(kafka_bootstrap, sqlite_engine, keys) as base:
        for kind, account in made.items():
            with signed_in(base, names[kind], PASSWORD) as http:
                for path, page in PAGES.items():
                    answer = http.get(path)
                    expected = 200 if page.may(account) else 403
                    if answer.status_code != expected:
                        wrong.append(f"{path} as {kind}: {answer.status_code}")
                    elif expected == 403 and f"this page is for {page.who}" not in answer.text:
                        wrong.append(f"{path} as {kind}: the refusal does not say who may")
    assert not wrong, "\n".join(wrong)
    # Each page opens for someone and is closed to someone.
    assert all(
        any(p.may(a) for a in made.values()) and not all(p.may(a) for a in made.values())
        for p in PAGES.values()
    )
