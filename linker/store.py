"""The linker's durable memory: each decision stored in order, replayed on start; and the
clerical review queue (uncertain pairs, their evidence, and reviewers' decisions)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime
from itertools import groupby
from typing import Any

from sqlalchemy import Engine, func, insert, select, update

from database import link_reviews, linker_mentions
from linker.compare import PersonRecord
from linker.families import FamilyIndex, Member
from linker.index import IdentityIndex
from schemas.links import ReviewDecision


@dataclass(frozen=True)
class LinkedMention:
    """One subject of one event, as the linker decided it."""

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

    @property
    def record(self) -> PersonRecord:
        return PersonRecord(
            self.given_name,
            self.family_name,
            self.date_of_birth,
            self.postcode,
            frozenset(self.identifiers),
        )


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

    def save(self, mentions: Sequence[LinkedMention]) -> None:
        if not mentions:
            return
        with self._engine.begin() as connection:
            connection.execute(linker_mentions.insert(), [asdict(m) for m in mentions])

    def linked(self, event_ids: Iterable[str]) -> set[str]:
        """Which of these events the linker has already handled."""
        wanted = list(event_ids)
        if not wanted:
            return set()
        with self._engine.connect() as connection:
            return set(
                connection.execute(
                    select(linker_mentions.c.event_id)
                    .where(linker_mentions.c.event_id.in_(wanted))
                    .distinct()
                ).scalars()
            )

    def load(self) -> tuple[IdentityIndex, FamilyIndex]:
        """Rebuild the indexes by replaying every stored decision in its original order."""
        identities, families = IdentityIndex(), FamilyIndex()
        columns = [c for c in linker_mentions.c if c.name != "seq"]
        with self._engine.connect() as connection:
            rows = connection.execute(select(*columns).order_by(linker_mentions.c.seq))
            mentions = [LinkedMention(**row._mapping) for row in rows]
        for _, group in groupby(mentions, key=lambda m: m.event_id):
            members = []
            for mention in group:
                identities.restore(mention.person_id, mention.record)
                members.append(
                    Member(mention.person_id, mention.role, mention.household, mention.related)
                )
            families.observe(members)
        return identities, families

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
        return dict(row) if row else {}

    def record_decision(self, decision: ReviewDecision) -> None:
        with self._engine.begin() as connection:
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

    def decisions(self) -> list[ReviewDecision]:
        """Every reviewer's decision, oldest first (replayed on start, after the mentions)."""
        with self._engine.connect() as connection:
            rows = connection.execute(
                select(link_reviews)
                .where(link_reviews.c.decided_at.is_not(None))
                .order_by(link_reviews.c.decided_at)
            ).mappings()
            return [
                ReviewDecision(
                    review_id=r["review_id"],
                    person_id=r["person_id"],
                    candidate_id=r["candidate_id"],
                    same_person=bool(r["same_person"]),
                    decided_by=r["decided_by"],
                    reason=r["reason"],
                    decided_at=r["decided_at"]
                    if r["decided_at"].tzinfo
                    else r["decided_at"].replace(tzinfo=UTC),
                )
                for r in rows
            ]
