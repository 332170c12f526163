"""Families: people grouped by household, by stated relationships, and by shared children.

A family id is stable: when two families turn out to be one, the older id survives and
the other is recorded as merged into it. Who was in which family when is kept as
history, so a separation or a child moving to relatives does not rewrite the past.

When who-is-who changes (a reviewer merges two people or splits a wrong link), the
families are grouped again from every mention (``regroup``); each group keeps the id its
earliest event was given, so families nobody touched keep theirs and a family split off
gets back the id it had before the wrong merge.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from itertools import groupby
from typing import Protocol

from ehx.linker.names import fold, postcode_key
from ehx.schemas.vocabulary import OUTSIDE_ROLES

#: People a record is about whom someone may report (a missing child, a child present).
REPORTED_ROLES = frozenset({"missing_person", "subject", "child_present", "child", "pupil"})
#: The role of someone who reported what a record is about.
REPORTING = "reporting_person"

#: Roles whose people, in one event at one address, are one household.
HOUSEHOLD_ROLES = frozenset(
    {
        "victim",
        "suspect",
        "child_present",
        "missing_person",
        "subject",
        "patient",
        "related_person",
        "pupil",
        "lead_tenant",
        "partner",
        "child",
        "other_adult",
    }
)


def household_key(address: str | None, postcode: str | None) -> str | None:
    """House number (or first words) and postcode: one dwelling, however it is spelt."""
    code = postcode_key(postcode)
    if not code or not address:
        return None
    folded = fold(address)
    number = re.search(r"\b(\d+[a-z]?)\b", folded)
    head = number.group(1) if number else " ".join(folded.split()[:2])
    return f"{code}:{head}"


@dataclass(frozen=True)
class Member:
    """One person in one event, as family grouping sees them."""

    person_id: str
    role: str
    household: str | None
    #: Set where the source states a relationship (FHIR RelatedPerson, a housing household).
    related: bool = False


@dataclass
class FamilyIndex:
    """Union of people into families; family ids stable, merges recorded."""

    _parent: dict[str, str] = field(default_factory=dict)
    _family_id: dict[str, str] = field(default_factory=dict)
    _households: dict[str, str] = field(default_factory=dict)
    merges: list[tuple[str, str]] = field(default_factory=list)
    _next: int = 0

    def _root(self, person: str) -> str:
        if person not in self._parent:
            self._parent[person] = person
        while self._parent[person] != person:
            self._parent[person] = self._parent[self._parent[person]]
            person = self._parent[person]
        return person

    def _union(self, a: str, b: str) -> None:
        ra, rb = self._root(a), self._root(b)
        if ra == rb:
            return
        ida, idb = self._family_id.get(ra), self._family_id.get(rb)
        if ida and idb:
            # Two known families are one: the older id survives, the merge is recorded.
            keep, gone = (ra, rb) if ida < idb else (rb, ra)
            self.merges.append((self._family_id[gone], self._family_id[keep]))
        else:
            # Someone new joins a family: no new id was ever handed out, nothing to record.
            keep, gone = (ra, rb) if ida or not idb else (rb, ra)
        self._parent[gone] = keep

    def _named(self, person: str) -> str:
        root = self._root(person)
        if root not in self._family_id:
            self._next += 1
            self._family_id[root] = f"f{self._next:08d}"
        return self._family_id[root]

    def observe(self, members: Iterable[Member]) -> None:
        """Learn from one event who belongs together."""
        everyone = list(members)
        inside = [m for m in everyone if m.role not in OUTSIDE_ROLES]
        homes = {m.household for m in inside if m.household and m.role in REPORTED_ROLES}
        # A witness, or someone reporting, is not of the family; except a person reporting
        # someone from their own address: a mother reporting her daughter missing.
        members = inside + [
            m
            for m in everyone
            if m.role == REPORTING and m.household is not None and m.household in homes
        ]
        for member in members:
            self._root(member.person_id)
            if member.household:
                resident = self._households.setdefault(member.household, member.person_id)
                self._union(resident, member.person_id)
        related = [m for m in members if m.related]
        for a, b in itertools.pairwise(related):
            self._union(a.person_id, b.person_id)
        # A child in an incident with adults: those adults share the child (separated
        # parents at two addresses are still the child's family).
        children = [m for m in members if m.role in ("child_present", "child", "pupil")]
        adults = [m for m in members if m.role in ("victim", "suspect", "lead_tenant", "partner")]
        for child in children:
            for adult in adults:
                self._union(child.person_id, adult.person_id)
        for member in members:
            self._named(member.person_id)

    def family_of(self, person_id: str) -> str:
        return self._named(person_id)


class Seen(Protocol):
    """A stored mention, as regrouping needs it."""

    @property
    def event_id(self) -> str: ...
    @property
    def person_id(self) -> str: ...
    @property
    def family_id(self) -> str: ...
    @property
    def role(self) -> str: ...
    @property
    def household(self) -> str | None: ...
    @property
    def related(self) -> bool: ...


def _number(family_id: str) -> int:
    digits = family_id.lstrip("f")
    return int(digits) if digits.isdigit() else 0


def regroup(
    mentions: Sequence[Seen], person_of: Callable[[str], str], floor: int = 0
) -> FamilyIndex:
    """Families from every mention (in the order they were linked), people as they are now.

    Each group takes the id its earliest mention was given, or, if another group has it
    already, the next id among its own mentions; a group with none free gets a new id.
    ``floor``: ids up to it were handed out before, and are never handed out again.
    """
    index = FamilyIndex()
    for _, group in groupby(mentions, key=lambda m: m.event_id):
        index.observe(Member(person_of(m.person_id), m.role, m.household, m.related) for m in group)
    claims: dict[str, list[str]] = {}
    for mention in mentions:
        root = index._root(person_of(mention.person_id))
        wanted = claims.setdefault(root, [])
        if mention.family_id not in wanted:
            wanted.append(mention.family_id)
    index._family_id = {}
    taken: set[str] = set()
    for root, wanted in claims.items():  # dicts keep order: earliest mention first
        free = next((f for f in wanted if f not in taken), None)
        if free is not None:
            index._family_id[root] = free
            taken.add(free)
    index._next = max([floor, *(_number(f) for f in taken)])
    index.merges = []
    return index
