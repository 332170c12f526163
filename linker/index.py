"""The identity index: which mentions, across agencies, are one person.

A mention carrying an identifier already known (NHS number, UPN, PNC id, an agency's
own person reference) joins that person outright. Otherwise the candidates blocking
finds (``blocking``) are scored with Fellegi-Sunter (``compare``) and the best one
decides the band:

- at or above ``upper``: linked;
- between ``lower`` and ``upper``: a new person, and a review item pairing it with the
  candidate, with the evidence field by field;
- below ``lower``: a new person.

Never linked automatically (``only_for_review``): records whose given names or birth
dates are simply different, whose identifiers conflict, or that agree only on what a
household shares; nor two people a reviewer kept apart.

Clusters, not pairs: a record that links to one person and matches another as surely,
or carries identifiers of two people, names the other in ``Resolution.joined``, and
``join`` merges them (the caller first notes where events pointed, to relink them).

Every link that joins two people is a merge, kept in ``journal``: a probabilistic link
gives the record its own person id and merges it into the candidate, so a wrong link
can be split again later, exactly, by that id. Pure and in memory; the linker service
stores the journal with the mentions and replays both on start.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum

from ehx.linker.blocking import Blocks, blocking_keys
from ehx.linker.compare import Level, MatchEvidence, PersonRecord, evidence, levels
from ehx.linker.model import DEFAULT, LinkModel, LinkPolicy

#: Records kept per person for comparison; more adds cost and little evidence.
RECORDS_PER_PERSON = 6
#: Blocks bigger than this are too common to be worth scoring everyone in them.
MAX_BLOCK = 400


class Band(StrEnum):
    DETERMINISTIC = "deterministic"
    LINKED = "linked"
    REVIEW = "review"
    NEW = "new"


@dataclass(frozen=True)
class Resolution:
    person_id: str
    band: Band
    weight: float | None
    confidence: float
    evidence: MatchEvidence | None = None
    candidate_id: str | None = None
    #: The id this record was given itself, when it differs from ``person_id`` (a
    #: probabilistic link merged it in): what the linker stores, and a split restores.
    own_id: str | None = None
    #: People already on file this record showed to be the same person as ``person_id``
    #: (it carries identifiers of both, or matches both surely), each with its cause,
    #: for ``IdentityIndex.join`` to merge.
    joined: tuple[tuple[str, str], ...] = ()

    @property
    def own(self) -> str:
        return self.own_id or self.person_id


class Op(StrEnum):
    MERGE = "merge"
    SPLIT = "split"
    APART = "apart"


@dataclass(frozen=True)
class JournalEntry:
    """One change to who is who: ``a`` and ``b`` merged (``b`` into ``a``), split, kept apart.

    ``cause``: ``identifier`` (they share one), ``match`` (a probabilistic link, with its
    weight), or the id of the reviewer's decision.
    """

    op: Op
    a: str
    b: str
    cause: str


@dataclass
class ReviewItem:
    """An uncertain pair for a person to decide, with the evidence for and against."""

    person_id: str
    candidate_id: str
    evidence: MatchEvidence


#: Levels at which a given name, or a birth date, is the person's own evidence.
_OWN_EVIDENCE = {
    "given_name": frozenset({"exact", "variant", "swapped", "close"}),
    "date_of_birth": frozenset({"exact", "swapped", "one_typo"}),
}


def only_for_review(best: MatchEvidence) -> bool:
    """Pairs the linker never links alone, however much else agrees; a person decides.

    A different given name (twins share a surname, a birthday and an address); a
    different birth date (a father and son of one name at one address); a conflicting
    identifier; and a pair with neither a given name nor a birth date in agreement: a
    family name and a postcode are a household's, not a person's (they agree together,
    so their weights, added as if independent, overstate it).
    """
    level = {f.field: f.level for f in best.fields}
    if level.get("identifiers") == "conflict":
        return True
    if level.get("given_name") == "different" or level.get("date_of_birth") == "different":
        return True
    return not any(level.get(f) in agreeing for f, agreeing in _OWN_EVIDENCE.items())


def _contradict(found: MatchEvidence) -> bool:
    """Two records that name different given names or birth dates: one person's records
    do not say both (a twin, a father and son), so their people are not joined."""
    level = {f.field: f.level for f in found.fields}
    return level.get("given_name") == "different" or level.get("date_of_birth") == "different"


def confidence(weight: float, policy: LinkPolicy) -> float:
    """The posterior probability of a match for a weight, under the policy's prior."""
    bits = weight + policy.prior_bits
    if bits > 60:
        return 1.0
    return 1.0 / (1.0 + math.pow(2.0, -bits))


@dataclass
class IdentityIndex:
    """Mentions to people: deterministic and probabilistic links, merges, review queue."""

    #: The thresholds; None: the model's own (they are set for its weights).
    policy: LinkPolicy | None = None
    #: The m and u values pairs are weighed with (``ehx links train`` learns them).
    model: LinkModel = DEFAULT
    _records: dict[str, list[PersonRecord]] = field(default_factory=dict)
    _by_identifier: dict[str, str] = field(default_factory=dict)
    _blocks: Blocks = field(default_factory=Blocks)
    _merged_into: dict[str, str] = field(default_factory=dict)
    _kept_apart: set[frozenset[str]] = field(default_factory=set)
    #: The records each merged person had of its own (the others only hold copies).
    _own: dict[str, list[PersonRecord]] = field(default_factory=dict)
    review: list[ReviewItem] = field(default_factory=list)
    #: Merges, splits and keep-aparts since the service last stored them.
    journal: list[JournalEntry] = field(default_factory=list)
    _next: int = 0

    def __post_init__(self) -> None:
        self.policy = self.policy or self.model.policy

    @property
    def thresholds(self) -> LinkPolicy:
        assert self.policy is not None  # set on creation
        return self.policy

    def person(self, person_id: str) -> str:
        """The surviving id of a person who may since have been merged into another."""
        while person_id in self._merged_into:
            person_id = self._merged_into[person_id]
        return person_id

    def knows(self, person_id: str) -> bool:
        """Whether this id was ever given to a person (merged since or not)."""
        return person_id in self._records

    def people(self) -> Iterable[str]:
        return (p for p in self._records if p not in self._merged_into)

    def records_of(self, person_id: str) -> list[PersonRecord]:
        """The records kept for comparison about this person."""
        return list(self._records.get(self.person(person_id), ()))

    def resolve(self, record: PersonRecord) -> Resolution:
        """Find or make the person this record is about, and remember the record."""
        known = {
            self.person(self._by_identifier[i])
            for i in record.identifiers
            if i in self._by_identifier
        }
        if known:
            # Identifiers of two people on one record: one person (``join`` merges them).
            person_id = min(known)
            joined = tuple(
                (other, "identifier")
                for other in sorted(known - {person_id})
                if not self.kept_apart(person_id, other)
            )
            self._remember(person_id, record)
            return Resolution(person_id, Band.DETERMINISTIC, None, 1.0, joined=joined)

        scored = self._scored(record)
        best_id, best = (scored[0][0], evidence(scored[0][1])) if scored else (None, None)
        if best_id is not None and best is not None:
            rise = self.thresholds.rise(len(self._records) - len(self._merged_into))
            upper = self.thresholds.upper + rise
            if best.weight >= upper and not only_for_review(best):
                # Its own id, merged: a reviewer can split exactly this link off again.
                own = self._new(record)
                self.merge(best_id, own, f"match {best.weight:.1f}")
                joined = self._also(best_id, own, scored[1:], upper, self.thresholds.lower + rise)
                return Resolution(
                    best_id,
                    Band.LINKED,
                    best.weight,
                    confidence(best.weight, self.thresholds),
                    best,
                    own_id=own,
                    joined=joined,
                )
            if best.weight >= self.thresholds.lower + rise:
                person_id = self._new(record)
                self.review.append(ReviewItem(person_id, best_id, best))
                return Resolution(
                    person_id,
                    Band.REVIEW,
                    best.weight,
                    1.0 - confidence(best.weight, self.thresholds),
                    best,
                    best_id,
                )
        person_id = self._new(record)
        weight = best.weight if best else None
        sure = 1.0 - confidence(weight, self.thresholds) if weight is not None else 1.0
        return Resolution(person_id, Band.NEW, weight, sure, best)

    def _scored(self, record: PersonRecord) -> list[tuple[str, list[Level], float]]:
        """Each candidate blocking finds, with its best-matching record's levels and
        weight: the best first, equal weights in id order (not a set's order, which
        changes with PYTHONHASHSEED run to run)."""
        candidates: set[str] = set()
        for key in blocking_keys(record).searched:
            members = self._blocks.members(key)
            if len(members) <= MAX_BLOCK:
                candidates.update(self.person(p) for p in members)
        scored = []
        for candidate in sorted(candidates):
            best: list[Level] | None = None
            best_weight = 0.0
            for known in self._records[candidate]:
                found = levels(record, known, self.model)
                weight = sum(w for _, _, w in found)
                if best is None or weight > best_weight:
                    best, best_weight = found, weight
            if best is not None:
                scored.append((candidate, best, best_weight))
        scored.sort(key=lambda one: -one[2])  # stable: ties stay in id order
        return scored

    def _also(
        self,
        person_id: str,
        own: str,
        others: list[tuple[str, list[Level], float]],
        upper: float,
        lower: float,
    ) -> tuple[tuple[str, str], ...]:
        """Clusters, not pairs: the other people this record matches as surely as the one
        it joined, and whose own records match that person's at least as well as a pair a
        reviewer is asked about, are that person too (``join`` merges them). Two sure
        links through one record and a fair match between the two are stronger than any
        of them alone. Never the pairs a person must decide, nor two people a reviewer
        kept apart. Each with the cause its merge is journalled with."""
        found = []
        for other, levels_found, weight in others:
            if weight < upper:
                break
            if self.person(other) == self.person(person_id) or self.kept_apart(person_id, other):
                continue
            if only_for_review(evidence(levels_found)):
                continue
            if self._alike(person_id, other, own, lower):
                found.append((other, f"match {weight:.1f} through {own}"))
        return tuple(found)

    def join(self, resolution: Resolution) -> None:
        """Merge into the record's person the others it showed to be them (reversibly:
        a reviewer splits any of them off again). The linker service calls this between
        reading where events pointed and where they point now, to relink them."""
        for other, cause in resolution.joined:
            if not self.kept_apart(resolution.person_id, other):
                self.merge(resolution.person_id, other, cause)

    def _alike(self, person_id: str, other: str, own: str, bar: float) -> bool:
        """Whether the two people's own records, the bridging one aside, match at ``bar``
        or more (and the pair is not one only a person may decide): a record that matches
        both of two people halfway (J Smith, 1990, for John and for Jane) does not make
        them one."""
        bridge = self._records[own]
        best: MatchEvidence | None = None
        for mine in self._records[self.person(person_id)]:
            # By identity: a record of theirs that reads the same as the bridge counts.
            if any(mine is record for record in bridge):
                continue
            for theirs in self._records[self.person(other)]:
                found = evidence(levels(mine, theirs, self.model))
                if _contradict(found):
                    return False
                if best is None or found.weight > best.weight:
                    best = found
        return best is not None and best.weight >= bar and not only_for_review(best)

    def restore(self, person_id: str, record: PersonRecord) -> None:
        """Replay a stored decision: ``record`` belongs to ``person_id``."""
        if person_id not in self._records:
            self._records[person_id] = []
            self._next = max(self._next, int(person_id.lstrip("p") or 0))
        self._remember(person_id, record)

    def _new(self, record: PersonRecord) -> str:
        self._next += 1
        person_id = f"p{self._next:08d}"
        self._records[person_id] = []
        self._remember(person_id, record)
        return person_id

    def _remember(self, person_id: str, record: PersonRecord, copied: bool = False) -> None:
        for identifier in record.identifiers:
            self._by_identifier.setdefault(identifier, person_id)
        records = self._records[person_id]
        if record not in records and len(records) < RECORDS_PER_PERSON:
            records.append(record)
        own = self._own.get(person_id)
        if not copied and own is not None and record not in own and len(own) < RECORDS_PER_PERSON:
            own.append(record)
        for key in blocking_keys(record).filed:
            self._blocks.add(key, person_id)

    def merge(self, keep: str, other: str, cause: str) -> str:
        """One person after all: ``other``'s records join ``keep``. Reversible by ``split``."""
        keep, other = self.person(keep), self.person(other)
        if keep == other:
            return keep
        # What each had of its own, kept from the first merge on, so a split can give
        # every person back exactly its own records.
        for person in (keep, other):
            self._own.setdefault(person, list(self._records[person]))
        self._merged_into[other] = keep
        for record in self._records[other]:
            self._remember(keep, record, copied=True)
            # Blocks name the survivor only: a block does not fill up with merged ids.
            for key in blocking_keys(record).filed:
                self._blocks.discard(key, other)
        self.journal.append(JournalEntry(Op.MERGE, keep, other, cause))
        return keep

    def keep_apart(self, a: str, b: str, cause: str) -> None:
        """A reviewer said these are two people: never linked to each other again."""
        pair = frozenset({self.person(a), self.person(b)})
        if len(pair) == 2 and pair not in self._kept_apart:
            self._kept_apart.add(pair)
            self.journal.append(JournalEntry(Op.APART, self.person(a), self.person(b), cause))

    def kept_apart(self, a: str, b: str) -> bool:
        return frozenset({self.person(a), self.person(b)}) in self._kept_apart

    def merged_into(self, person_id: str) -> str | None:
        """Whom ``person_id`` was merged into directly, if anyone."""
        return self._merged_into.get(person_id)

    def members(self, person_id: str) -> list[str]:
        """Every id that is now this person (its own first), for a reviewer to split."""
        root = self.person(person_id)
        found = [p for p in self._records if p != root and self.person(p) == root]
        return [root, *sorted(found)]

    def _under(self, person_id: str) -> list[str]:
        """``person_id`` and every id merged into it, directly or through others."""
        found = []
        for candidate in self._own:
            walk: str | None = candidate
            while walk is not None and walk != person_id:
                walk = self._merged_into.get(walk)
            if walk == person_id:
                found.append(candidate)
        return found or [person_id]

    def split(self, merged: str, cause: str) -> bool:
        """Undo the merge of ``merged``: its own person again, kept apart from the other.

        Its records leave every person it had been merged into; identifiers its records
        carry point at it again. False if it was not merged into anyone.
        """
        parent = self._merged_into.pop(merged, None)
        if parent is None:
            return False
        ancestors = [parent]
        while ancestors[-1] in self._merged_into:
            ancestors.append(self._merged_into[ancestors[-1]])
        root = ancestors[-1]
        moved = self._records.get(merged, [])
        carried = {i for r in moved for i in r.identifiers}
        for ancestor in ancestors:
            kept: list[PersonRecord] = []
            for member in self._under(ancestor):
                for record in self._own.get(member, self._records[member]):
                    if record not in kept and len(kept) < RECORDS_PER_PERSON:
                        kept.append(record)
            self._records[ancestor] = kept
        for record in moved:
            for key in blocking_keys(record).filed:
                self._blocks.add(key, merged)
        for identifier in carried:
            if self.person(self._by_identifier.get(identifier, merged)) == root:
                self._by_identifier[identifier] = merged
        self._kept_apart.add(frozenset({merged, root}))
        self.journal.append(JournalEntry(Op.SPLIT, root, merged, cause))
        return True

    def replay(self, entry: JournalEntry) -> None:
        """Apply a stored journal entry on start (it is not journalled again)."""
        journalled = len(self.journal)
        if entry.op is Op.MERGE:
            self.merge(entry.a, entry.b, entry.cause)
        elif entry.op is Op.SPLIT:
            self.split(entry.b, entry.cause)
        else:
            self.keep_apart(entry.a, entry.b, entry.cause)
        del self.journal[journalled:]

    def take_journal(self) -> list[JournalEntry]:
        taken, self.journal = self.journal, []
        return taken
