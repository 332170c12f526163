"""The linker's durable memory: each decision stored in order, replayed on start."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from datetime import date
from itertools import groupby

from sqlalchemy import Engine, func, select

from database import linker_mentions
from linker.compare import PersonRecord
from linker.families import FamilyIndex, Member
from linker.index import IdentityIndex


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
