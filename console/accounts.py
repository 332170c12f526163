"""Who may open each console page: one table, checked by every page and shown in the docs.

The accounts themselves (roles, passwords, the organisation each works for) are
``organisations/people.py``: the API holds its readers to the same accounts.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ehx.organisations.people import Account, Role
from ehx.schemas.vocabulary import Recipient


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
    "/search": Page(
        "anyone with a recipient view: the MASH finds anyone, others the people their views name",
        lambda a: a.reads_families and a.acts_for is not None,
    ),
    "/outcomes": Page(
        "practitioners: what was decided about the cases their organisation's records were behind",
        lambda a: a.role is Role.PRACTITIONER and a.acts_for is not None,
    ),
    "/encompass": Page(
        "a school's practitioners (their pupils), the local authority's Operation "
        "Encompass officer, and the MASH (to read)",
        lambda a: a.acknowledges_encompass or a.team is Recipient.MASH,
    ),
    "/audit": Page("auditors and the data protection officer", lambda a: a.audits),
    "/rights": Page(
        "the data protection officer: subject access requests", lambda a: a.role is Role.DPO
    ),
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
