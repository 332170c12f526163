"""A family's history: who was in it when, and where each of them lived from when to when.

A family id is stable and a family only grows (see ``families.py``), so a separation, a
new partner or a child moving to relatives does not make a new family; it shows here, in
the events behind it: a partner's last appearance at the family's address and first at
another, a new adult's first appearance, a child seen at the relatives' household from a
date. Pure: it reads the linker's mentions with the dates their events happened.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class Appearance:
    """One person in one event of the family, as the linker stored it."""

    event_id: str
    person_id: str
    role: str
    household: str | None
    occurred_at: datetime


@dataclass
class Stay:
    """A person at one household, from their first to their last event there."""

    household: str
    since: datetime
    until: datetime


@dataclass
class Member:
    person_id: str
    since: datetime
    until: datetime
    roles: set[str] = field(default_factory=set)
    stays: list[Stay] = field(default_factory=list)


def history(appearances: Iterable[Appearance]) -> dict[str, Any]:
    """Members with when they were first and last seen, their roles and their households
    over time, and the family's changes in the order they happened."""
    members: dict[str, Member] = {}
    changes: list[dict[str, Any]] = []
    for seen in sorted(appearances, key=lambda a: (a.occurred_at, a.event_id)):
        member = members.get(seen.person_id)
        if member is None:
            member = members[seen.person_id] = Member(
                seen.person_id, seen.occurred_at, seen.occurred_at
            )
            changes.append(_change(seen, "joined", household=seen.household))
        member.until = seen.occurred_at
        member.roles.add(seen.role)
        if seen.household is None:
            continue
        stay = member.stays[-1] if member.stays else None
        if stay is not None and stay.household == seen.household:
            stay.until = seen.occurred_at
            continue
        if stay is not None:
            changes.append(_change(seen, "moved", household=seen.household, left=stay.household))
        member.stays.append(Stay(seen.household, seen.occurred_at, seen.occurred_at))
    return {
        "members": [
            {
                "person_id": m.person_id,
                "first_seen": m.since,
                "last_seen": m.until,
                "roles": sorted(m.roles),
                "households": [
                    {"household": s.household, "since": s.since, "until": s.until} for s in m.stays
                ],
            }
            for m in sorted(members.values(), key=lambda m: (m.since, m.person_id))
        ],
        "changes": changes,
    }


def _change(seen: Appearance, what: str, **detail: Any) -> dict[str, Any]:
    return {
        "at": seen.occurred_at,
        "person_id": seen.person_id,
        "change": what,
        "role": seen.role,
        "event_id": seen.event_id,
        **detail,
    }
