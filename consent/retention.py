"""How long each recipient keeps what it was given: the retention schedule (pure rules).

Periods are whole years counted from the end of the year the event happened ("the current
year plus six", as records schedules put them), so everything one recipient holds about
one person under one entry of the schedule from one year expires on the same day, 1
January. One data key per recipient, person, entry and year seals it (``consent.keys``):
destroying that key when the period ends shreds exactly what expired, on every topic and
in every store a copy reached, and nothing that has not.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from ehx.schemas.vocabulary import Category, Recipient


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RetentionEntry(_Strict):
    """One line of the schedule: what it covers, how long it is kept, and on what authority.

    An empty ``recipients``, ``outcomes`` or ``categories`` covers every one."""

    name: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,30}$")]
    recipients: tuple[Recipient, ...] = ()
    #: The decision's outcome (as ``consent.decide.Outcome`` names those that share).
    outcomes: tuple[Literal["allow", "override", "notify", "indicator"], ...] = ()
    categories: tuple[Category, ...] = ()
    years: Annotated[int, Field(ge=1, le=100)]
    #: Why this long, in the words a DPO would cite (a schedule, a statute, a guidance).
    why: Annotated[str, Field(min_length=3)]

    def covers(self, recipient: Recipient, outcome: str, categories: Iterable[str]) -> bool:
        if self.recipients and recipient not in self.recipients:
            return False
        if self.outcomes and outcome not in self.outcomes:
            return False
        return not self.categories or any(c in self.categories for c in categories)

    def expires_on(self, year: int) -> date:
        """The day an item from ``year`` under this entry is removed."""
        return date(year + self.years + 1, 1, 1)

    def last_expired_year(self, today: date) -> int:
        """The latest year of occurrence whose items have expired by ``today``."""
        return today.year - self.years - 1


class RetentionSchedule(_Strict):
    """The schedule, first matching entry wins; the last covers everything."""

    entries: Annotated[tuple[RetentionEntry, ...], Field(min_length=1)]
    #: The audit ledger keeps each entry this many years: longer than anything it describes,
    #: so the proof of a removal outlives the item.
    ledger_years: Annotated[int, Field(ge=1, le=200)]

    @model_validator(mode="after")
    def _complete(self) -> RetentionSchedule:
        names = [e.name for e in self.entries]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ValueError(f"retention entry names must be unique: {', '.join(twice)}")
        last = self.entries[-1]
        if last.recipients or last.outcomes or last.categories:
            raise ValueError(
                f"the last retention entry ({last.name}) must cover everything "
                "(no recipients, outcomes or categories), so nothing is kept without a period"
            )
        longest = max(e.years for e in self.entries)
        if self.ledger_years <= longest:
            raise ValueError(
                f"ledger_years ({self.ledger_years}) must be longer than the longest "
                f"retention period ({longest} years): the ledger proves what was removed"
            )
        return self

    def entry_for(
        self, recipient: Recipient, outcome: str, categories: Iterable[str]
    ) -> RetentionEntry:
        wanted = tuple(categories)
        return next(e for e in self.entries if e.covers(recipient, outcome, wanted))

    def named(self, name: str) -> RetentionEntry | None:
        return next((e for e in self.entries if e.name == name), None)

    @property
    def longest(self) -> RetentionEntry:
        return max(self.entries, key=lambda e: e.years)


def period(entry: RetentionEntry, occurred_at: datetime | date) -> str:
    """What a data key is for: ``early_help/2026`` (the entry, the year of occurrence)."""
    return f"{entry.name}/{occurred_at.year}"


def parse_period(text: str) -> tuple[str, int] | None:
    """``("early_help", 2026)`` from ``early_help/2026``; None for a key made before the
    schedule (it lives until consent is withdrawn or the person is erased)."""
    name, sep, year = text.partition("/")
    return (name, int(year)) if sep and year.isdigit() else None
