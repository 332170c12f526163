"""The record registry: what each agency has sent, so that every record publishes once.

A record is classified against the latest version seen for its reference, and its
event ids are reserved *before* publishing (outbox style). If the process dies between
publishing and marking the record published, the next ingest republishes the same event
ids, and every consumer drops what it has already seen by event id.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy import Engine, select, tuple_, update

from ehx.database import source_records
from ehx.schemas import Agency


class Outcome(StrEnum):
    NEW = "new"
    SUPERSEDES = "supersedes"
    RESUME = "resume"
    DUPLICATE = "duplicate"
    STALE = "stale"
    CONFLICT = "conflict"


#: Outcomes whose events go on the wire.
PUBLISHES = frozenset({Outcome.NEW, Outcome.SUPERSEDES, Outcome.RESUME})


@dataclass(frozen=True)
class Claim:
    """One record offered to the registry."""

    record_ref: str
    version: int
    content_hash: str
    event_ids: tuple[str, ...]


@dataclass(frozen=True)
class Verdict:
    outcome: Outcome
    #: The event ids to publish under: the reserved ones when resuming.
    event_ids: tuple[str, ...]
    known_version: int | None


class RecordRegistry:
    """Classifies records against what was sent before; durable in the database."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def reserve(
        self,
        agency: Agency,
        claims: Sequence[Claim],
        now: datetime,
        reserved: set[tuple[str, int]] | None = None,
    ) -> list[Verdict]:
        """Classify each claim and reserve event ids for those that will be published.

        Claims are taken in order, so a file holding the same record twice publishes it
        once and a file holding versions 1 then 2 publishes both, 2 superseding 1.
        ``reserved`` is the caller's set of (reference, version) already reserved in this
        run: a record found "pending" that this run reserved itself is a duplicate, not
        a crashed publish to resume. Newly reserved claims are added to it.
        """
        reserved = reserved if reserved is not None else set()
        refs = {claim.record_ref for claim in claims}
        with self._engine.begin() as connection:
            rows = connection.execute(
                select(source_records).where(
                    source_records.c.agency == agency.value,
                    source_records.c.record_ref.in_(refs),
                )
            ).all()
            state = {
                row.record_ref: (
                    row.record_version,
                    row.content_hash,
                    row.status,
                    tuple(row.event_ids),
                )
                for row in rows
            }
            known_refs = set(state)
            verdicts: list[Verdict] = []
            writes: dict[str, dict[str, object]] = {}
            for claim in claims:
                current = state.get(claim.record_ref)
                verdict = self._classify(claim, current)
                if (
                    verdict.outcome is Outcome.RESUME
                    and (claim.record_ref, claim.version) in reserved
                ):
                    verdict = Verdict(Outcome.DUPLICATE, (), claim.version)
                verdicts.append(verdict)
                if verdict.outcome in PUBLISHES:
                    reserved.add((claim.record_ref, claim.version))
                    state[claim.record_ref] = (
                        claim.version,
                        claim.content_hash,
                        "pending",
                        verdict.event_ids,
                    )
                    writes[claim.record_ref] = {
                        "agency": agency.value,
                        "record_ref": claim.record_ref,
                        "record_version": claim.version,
                        "status": "pending",
                        "event_ids": list(verdict.event_ids),
                        "content_hash": claim.content_hash,
                        "first_seen_at": now,
                        "published_at": None,
                    }
            inserts = [row for ref, row in writes.items() if ref not in known_refs]
            if inserts:
                connection.execute(source_records.insert(), inserts)
            for ref, row in writes.items():
                if ref in known_refs:
                    connection.execute(
                        update(source_records)
                        .where(
                            source_records.c.agency == agency.value,
                            source_records.c.record_ref == ref,
                        )
                        .values(
                            record_version=row["record_version"],
                            status="pending",
                            event_ids=row["event_ids"],
                            content_hash=row["content_hash"],
                            published_at=None,
                        )
                    )
        return verdicts

    @staticmethod
    def _classify(claim: Claim, current: tuple[int, str, str, tuple[str, ...]] | None) -> Verdict:
        if current is None:
            return Verdict(Outcome.NEW, claim.event_ids, None)
        version, content_hash, status, event_ids = current
        if claim.version > version:
            return Verdict(Outcome.SUPERSEDES, claim.event_ids, version)
        if claim.version < version:
            return Verdict(Outcome.STALE, (), version)
        if content_hash != claim.content_hash:
            return Verdict(Outcome.CONFLICT, (), version)
        if status == "pending":
            return Verdict(Outcome.RESUME, event_ids, version)
        return Verdict(Outcome.DUPLICATE, (), version)

    def mark_published(
        self, agency: Agency, published: Sequence[tuple[str, int]], now: datetime
    ) -> None:
        if not published:
            return
        with self._engine.begin() as connection:
            # One statement per batch, on the primary key and the version reserved (a
            # newer version reserved since by another run stays pending). The plain
            # record_ref IN lets SQLite seek the key: on the row values alone it read
            # every record of the agency, once per batch.
            connection.execute(
                update(source_records)
                .where(
                    source_records.c.agency == agency.value,
                    source_records.c.record_ref.in_([ref for ref, _ in published]),
                    tuple_(source_records.c.record_ref, source_records.c.record_version).in_(
                        list(published)
                    ),
                )
                .values(status="published", published_at=now)
            )
