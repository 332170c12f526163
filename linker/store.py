"""The linker's durable memory: each decision stored in order, replayed on start; and the
clerical review queue (uncertain pairs, their evidence, and reviewers' decisions)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Engine, Text, cast, func, insert, or_, select, update

from ehx.database import (
    link_models,
    link_reviews,
    linker_ids,
    linker_journal,
    linker_mentions,
    received_events,
)
from ehx.database.bulk import execute_many
from ehx.database.upsert import upsert
from ehx.linker.compare import PersonRecord
from ehx.linker.families import FamilyIndex, regroup
from ehx.linker.history import Appearance
from ehx.linker.index import IdentityIndex, JournalEntry, Op
from ehx.linker.model import DEFAULT, LinkModel
from ehx.schemas.links import ReviewDecision
from ehx.schemas.vocabulary import WITHHELD


@dataclass(frozen=True)
class LinkedMention:
    """One subject of one event, as the linker decided it.

    ``person_id`` is the id the record was given itself (a probabilistic link merges it
    into the person it matched: see the journal); ``family_id`` the family it went out in.
    """

    event_id: str
    subject_index: int
    person_id: str
    family_id: str
    band: str
    weight: float | None
    given_name: str
    family_name: str
    date_of_birth: date | None
    postcode: str | None
    identifiers: list[str]
    role: str
    household: str | None
    related: bool
    restricted: bool = False

    @property
    def record(self) -> PersonRecord:
        return PersonRecord(
            self.given_name,
            self.family_name,
            self.date_of_birth,
            self.postcode,
            frozenset(self.identifiers),
        )


_MENTION_FIELDS = tuple(f.name for f in fields(LinkedMention))


def _row(mention: LinkedMention) -> dict[str, Any]:
    # Not dataclasses.asdict: it deep-copies every field, 6% of the linker's time.
    return {name: getattr(mention, name) for name in _MENTION_FIELDS}


@dataclass(frozen=True)
class LinkReview:
    """An uncertain pair for the review queue: the new person, the candidate, the evidence."""

    person_id: str
    candidate_id: str
    event_id: str
    weight: float
    evidence: dict[str, Any]

    @property
    def review_id(self) -> str:
        return f"{self.person_id}~{self.candidate_id}"


class LinkStore:
    """Linker decisions in the database."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def save(
        self,
        mentions: Sequence[LinkedMention],
        journal: Sequence[JournalEntry],
        decision: ReviewDecision | None = None,
    ) -> None:
        """Mentions and journal entries in one transaction (and the reviewer's decision).

        The journal is not optional: mentions of records linked by a match name their own
        ids, and only the journal's merges make them one person again on restart.
        """
        if not mentions and not journal and decision is None:
            return
        now = decision.decided_at if decision else datetime.now(UTC)
        with self._engine.begin() as connection:
            if mentions:
                execute_many(
                    connection, linker_mentions.insert(), [_row(m) for m in mentions], "mentions"
                )
            if journal:
                connection.execute(
                    linker_journal.insert(),
                    [
                        {
                            "op": e.op.value,
                            "a": e.a,
                            "b": e.b,
                            "cause": e.cause[:80],
                            "decided_by": decision.decided_by if decision else None,
                            "reason": decision.reason if decision else None,
                            "at": now,
                        }
                        for e in journal
                    ],
                )
            if decision is not None:
                connection.execute(
                    update(link_reviews)
                    .where(link_reviews.c.review_id == decision.review_id)
                    .values(
                        same_person=decision.same_person,
                        decided_by=decision.decided_by,
                        reason=decision.reason,
                        decided_at=decision.decided_at,
                    )
                )

    def reserve(self, people: int, families: int) -> None:
        """Person and family numbers up to these are handed out: before a batch using
        them is published, so that ``load`` never numbers anyone with them again."""
        with self._engine.begin() as connection:
            upsert(
                connection,
                linker_ids,
                [{"kind": "person", "high": people}, {"kind": "family", "high": families}],
                ["kind"],
            )

    def _reserved(self) -> dict[str, int]:
        with self._engine.connect() as connection:
            return {
                k: h for k, h in connection.execute(select(linker_ids.c.kind, linker_ids.c.high))
            }

    def linked(self, event_ids: Iterable[str]) -> set[str]:
        """Which of these events the linker has already handled."""
        return self._present(linker_mentions.c.event_id, event_ids)

    def _present(self, column: Any, values: Iterable[str]) -> set[str]:
        """Which of ``values`` the mentions hold in ``column``."""
        wanted = sorted(set(values))
        if not wanted:
            return set()
        with self._engine.connect() as connection:
            return set(
                connection.execute(select(column).where(column.in_(wanted)).distinct()).scalars()
            )

    def load(self) -> tuple[IdentityIndex, FamilyIndex]:
        """Rebuild the indexes: every mention in its original order, then the journal.

        The journal is read first: each entry was committed with the mentions it names,
        so mentions read after it hold every person it merges or splits, even while a
        running linker writes more (read the other way round, a merge could name a
        person not yet read).
        """
        identities = IdentityIndex(model=self.latest_model())
        journal = self.journal()
        mentions = self.mentions()
        reserved = self._reserved()
        for mention in mentions:
            identities.restore(mention.person_id, mention.record)
        for entry in journal:
            identities.replay(entry)
        # Numbers on from the highest handed out, stored or only published.
        identities._next = max(identities._next, reserved.get("person", 0))
        floor = max((int(m.family_id.lstrip("f") or 0) for m in mentions), default=0)
        return identities, regroup(
            mentions, identities.person, max(floor, reserved.get("family", 0))
        )

    def save_model(self, model: LinkModel, by: str, at: datetime) -> int:
        """Store a learnt model; the linker weighs new pairs with it from its next start."""
        with self._engine.begin() as connection:
            made = connection.execute(
                insert(link_models)
                .values(trained_at=at, trained_by=by, body=model.as_dict())
                .returning(link_models.c.model_id)
            )
            return int(made.scalar_one())

    def latest_model(self) -> LinkModel:
        """The model ``ehx links train`` stored last, or the hand-set one if none."""
        with self._engine.connect() as connection:
            body = connection.execute(
                select(link_models.c.body).order_by(link_models.c.model_id.desc()).limit(1)
            ).scalar()
        return LinkModel.from_dict(body) if isinstance(body, dict) else DEFAULT

    def mentions(self) -> list[LinkedMention]:
        """Every mention, in the order the linker made them."""
        columns = [c for c in linker_mentions.c if c.name != "seq"]
        with self._engine.connect() as connection:
            rows = connection.execute(select(*columns).order_by(linker_mentions.c.seq))
            return [LinkedMention(**row._mapping) for row in rows]

    def journal(self) -> list[JournalEntry]:
        """Every merge, split and keep-apart, oldest first."""
        with self._engine.connect() as connection:
            rows = connection.execute(
                select(
                    linker_journal.c.op,
                    linker_journal.c.a,
                    linker_journal.c.b,
                    linker_journal.c.cause,
                ).order_by(linker_journal.c.seq)
            ).all()
        return [JournalEntry(Op(r.op), r.a, r.b, r.cause) for r in rows]

    def known(self, person_ids: Iterable[str]) -> set[str]:
        """Which of these ids the linker has given to a record."""
        return self._present(linker_mentions.c.person_id, person_ids)

    def merged_into(self, person_ids: Iterable[str]) -> dict[str, str | None]:
        """Whom each of these ids is merged into now (None: its own person), by the journal.

        The last merge or split naming an id as the one merged decides.
        """
        wanted = sorted(set(person_ids))
        parent: dict[str, str | None] = dict.fromkeys(wanted)
        if not wanted:
            return parent
        with self._engine.connect() as connection:
            rows = connection.execute(
                select(linker_journal.c.op, linker_journal.c.a, linker_journal.c.b)
                .where(
                    linker_journal.c.b.in_(wanted),
                    linker_journal.c.op.in_([Op.MERGE.value, Op.SPLIT.value]),
                )
                .order_by(linker_journal.c.seq)
            ).all()
        for op, a, b in rows:
            parent[b] = a if op == Op.MERGE.value else None
        return parent

    def root(self, person_id: str) -> str:
        """The person this id is part of now (itself if it was never merged)."""
        seen = {person_id}
        while (parent := self.merged_into([person_id])[person_id]) is not None:
            if parent in seen:  # a journal can't hold a cycle; never loop if it did
                break
            seen.add(parent)
            person_id = parent
        return person_id

    def members(self, people: Iterable[str]) -> dict[str, str]:
        """Every id that is now part of one of these people, mapped to that person.

        Each person maps to itself; then, level by level, the ids merged into them (a
        probabilistic link merges the record's own id into the person it matched).
        """
        found = {p: p for p in people}
        frontier = set(found)
        while frontier:
            with self._engine.connect() as connection:
                candidates = set(
                    connection.execute(
                        select(linker_journal.c.b).where(
                            linker_journal.c.op == Op.MERGE.value,
                            linker_journal.c.a.in_(sorted(frontier)),
                        )
                    ).scalars()
                ) - set(found)
            frontier = set()
            for member, parent in self.merged_into(candidates).items():
                if parent is not None and parent in found:
                    found[member] = found[parent]
                    frontier.add(member)
        return found

    def find(
        self,
        *,
        name: str = "",
        born: date | None = None,
        nhs_number: str = "",
        limit: int = 50,
    ) -> list[dict[str, Any]]:
        """People whose records match every part given: each word of ``name`` in a given
        or family name (any case), the date of birth, the NHS number. One row a person
        (the ids merged into them together), at most ``limit``."""
        c = linker_mentions.c
        query = select(
            c.person_id, c.family_id, c.given_name, c.family_name, c.date_of_birth, c.restricted
        )
        for word in name.split():
            like = f"%{word.casefold()}%"
            query = query.where(
                or_(func.lower(c.given_name).like(like), func.lower(c.family_name).like(like))
            )
        if born is not None:
            query = query.where(c.date_of_birth == born)
        digits = "".join(ch for ch in nhs_number if ch.isdigit())
        if digits:
            query = query.where(cast(c.identifiers, Text).contains(digits))
        with self._engine.connect() as connection:
            rows = connection.execute(query.limit(limit * 10)).all()
        people: dict[str, dict[str, Any]] = {}
        for row in rows:
            root = self.root(row.person_id)
            person = people.setdefault(
                root,
                {"person_id": root, "ids": set(), "families": set(), "names": set(), "born": None},
            )
            person["ids"] |= {row.person_id, root}
            person["families"].add(row.family_id)
            person["names"].add(f"{row.given_name} {row.family_name}")
            person["born"] = person["born"] or row.date_of_birth
        return sorted(people.values(), key=lambda p: p["person_id"])[:limit]

    def family_appearances(self, family_id: str) -> list[Appearance]:
        """Everyone in every event that went out under this family id, with its date
        (from intake's record of the event), people as they are now. Where anyone in the
        family is restricted, no household is given: theirs is hers."""
        m, r = linker_mentions.c, received_events.c
        with self._engine.connect() as connection:
            rows = connection.execute(
                select(m.event_id, m.person_id, m.role, m.household, m.restricted, r.occurred_at)
                .join(received_events, r.event_id == m.event_id)
                .where(m.family_id == family_id)
                .order_by(m.seq)
            ).all()
        person_of: dict[str, str] = {}
        for own in {row.person_id for row in rows}:
            person_of[own] = self.root(own)
        withheld = any(row.restricted for row in rows)
        return [
            Appearance(
                row.event_id,
                person_of[row.person_id],
                row.role,
                None if withheld else row.household,
                row.occurred_at if row.occurred_at.tzinfo else row.occurred_at.replace(tzinfo=UTC),
            )
            for row in rows
        ]

    def history(self, people: Iterable[str]) -> list[dict[str, Any]]:
        """The journal entries about these people: what joined or parted them, who, why."""
        wanted = list(people)
        with self._engine.connect() as connection:
            rows = connection.execute(
                select(linker_journal)
                .where(linker_journal.c.a.in_(wanted) | linker_journal.c.b.in_(wanted))
                .order_by(linker_journal.c.seq)
            ).mappings()
            return [dict(r) for r in rows]

    def records_of(self, people: Iterable[str]) -> list[dict[str, Any]]:
        """The records stored under these own ids, one row per mention, in order."""
        wanted = list(people)
        with self._engine.connect() as connection:
            rows = connection.execute(
                select(
                    linker_mentions.c.person_id,
                    linker_mentions.c.event_id,
                    linker_mentions.c.band,
                    linker_mentions.c.weight,
                    linker_mentions.c.given_name,
                    linker_mentions.c.family_name,
                    linker_mentions.c.date_of_birth,
                    linker_mentions.c.postcode,
                    linker_mentions.c.role,
                    linker_mentions.c.identifiers,
                )
                .where(linker_mentions.c.person_id.in_(wanted))
                .order_by(linker_mentions.c.seq)
            ).mappings()
            found = [dict(r) for r in rows]
        return _withheld(found) if self.restricted_among(wanted) else found

    def restricted_among(self, people: Iterable[str]) -> bool:
        """Whether an agency marked any of these own ids restricted (PDS R or V)."""
        with self._engine.connect() as connection:
            return (
                connection.execute(
                    select(linker_mentions.c.person_id)
                    .where(
                        linker_mentions.c.person_id.in_(list(people)),
                        linker_mentions.c.restricted.is_(True),
                    )
                    .limit(1)
                ).first()
                is not None
            )

    def events_linked(self) -> int:
        """How many events the linker has handled."""
        with self._engine.connect() as connection:
            count = connection.execute(
                select(func.count(func.distinct(linker_mentions.c.event_id)))
            ).scalar_one()
        return int(count)

    # --- the clerical review queue --------------------------------------------------------

    def save_reviews(self, reviews: Sequence[LinkReview]) -> None:
        """Queue these pairs for review (a pair queued already is left as it is)."""
        if not reviews:
            return
        with self._engine.begin() as connection:
            known = set(
                connection.execute(
                    select(link_reviews.c.review_id).where(
                        link_reviews.c.review_id.in_([r.review_id for r in reviews])
                    )
                ).scalars()
            )
            fresh = {r.review_id: r for r in reviews if r.review_id not in known}
            if fresh:
                now = datetime.now(UTC)
                connection.execute(
                    insert(link_reviews),
                    [
                        {
                            "review_id": r.review_id,
                            "person_id": r.person_id,
                            "candidate_id": r.candidate_id,
                            "event_id": r.event_id,
                            "weight": r.weight,
                            "evidence": r.evidence,
                            "created_at": now,
                        }
                        for r in fresh.values()
                    ],
                )

    def reviews(self, *, open_only: bool = True) -> list[dict[str, Any]]:
        """The queue, strongest evidence first; each pair with both people's records."""
        query = select(link_reviews).order_by(link_reviews.c.weight.desc())
        if open_only:
            query = query.where(link_reviews.c.decided_at.is_(None))
        with self._engine.connect() as connection:
            rows = [dict(r) for r in connection.execute(query).mappings()]
        for row in rows:
            row["person"] = self._first_record(row["person_id"])
            row["candidate"] = self._first_record(row["candidate_id"])
        return rows

    def review(self, review_id: str) -> dict[str, Any] | None:
        found = [r for r in self.reviews(open_only=False) if r["review_id"] == review_id]
        return found[0] if found else None

    def _first_record(self, person_id: str) -> dict[str, Any]:
        with self._engine.connect() as connection:
            row = (
                connection.execute(
                    select(
                        linker_mentions.c.given_name,
                        linker_mentions.c.family_name,
                        linker_mentions.c.date_of_birth,
                        linker_mentions.c.postcode,
                        linker_mentions.c.role,
                    )
                    .where(linker_mentions.c.person_id == person_id)
                    .order_by(linker_mentions.c.seq)
                    .limit(1)
                )
                .mappings()
                .first()
            )
        if not row:
            return {}
        person = self.members([self.root(person_id)])
        return _withheld([dict(row)])[0] if self.restricted_among(person) else dict(row)


def _withheld(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Records of a restricted person as a link page may show them: no postcode."""
    return [{**r, "postcode": None, "address_withheld": WITHHELD} for r in records]
