"""Finding a person by name, date of birth or NHS number, as the searcher may see them.

The MASH (whose link pages show who a person is across agencies) finds anyone the
linker holds. Anyone else finds only the people their own views name (a school its
pupils, a trust its patients): a search never tells them someone else is on file. The
search is a read like any other, recorded with its purpose and the people it showed,
never with the words searched for (a name is itself personal).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Engine

from ehx.consent.recording import age
from ehx.linker.store import LinkStore
from ehx.schemas.audit import Action, AuditRecord
from ehx.schemas.vocabulary import Recipient
from ehx.timeline.store import TimelineStore


class SearchRefused(ValueError):
    """A search that cannot be run as asked (the message says why)."""


def find_people(
    engine: Engine, acts_for: str, *, name: str = "", born: date | None = None, nhs_number: str = ""
) -> list[dict[str, Any]]:
    """People matching every part given, as ``acts_for`` may see them: name(s), date of
    birth, age today and families, with the person id alongside."""
    if len(name.strip()) < 2 and born is None and not nhs_number.strip():
        raise SearchRefused(
            "search by a name (two letters or more), a date of birth or an NHS number"
        )
    found = LinkStore(engine).find(name=name, born=born, nhs_number=nhs_number)
    if acts_for != Recipient.MASH.value:
        named = TimelineStore(engine).named_in_view(acts_for, {i for p in found for i in p["ids"]})
        found = [p for p in found if p["ids"] & named]
    now = datetime.now(UTC)
    return [
        {
            "person_id": p["person_id"],
            "names": sorted(p["names"]),
            "date_of_birth": p["born"].isoformat() if p["born"] else None,
            "age": age(p["born"], now),
            "families": sorted(p["families"]),
        }
        for p in found
    ]


def search_read(
    found: list[dict[str, Any]], actor: str, role: str, acts_for: str, purpose: str
) -> AuditRecord:
    """The search on the ledger: who, why, and whom it showed (not what they typed)."""
    return AuditRecord(
        action=Action.PEOPLE_SEARCHED,
        actor=actor,
        role=role,
        agency=acts_for,
        purpose=purpose[:200],
        subject_ids=tuple(p["person_id"] for p in found),
        at=datetime.now(UTC),
    )
