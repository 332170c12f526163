"""The consent service's durable memory: records, events on file, decisions (SQL)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from pydantic import TypeAdapter
from sqlalchemy import Engine, delete, select, update

from ehx.consent.decide import Decision, Outcome, family_of
from ehx.consent.engine import Outbox
from ehx.consent.records import ConsentRecord, HarmAssertion, OverrideReview
from ehx.consent.registry import ConsentRegistry, ConsentTopicRecord
from ehx.database import (
    consent_events,
    consent_records,
    data_keys,
    json_column,
    restricted_people,
    sharing_decisions,
)
from ehx.database.upsert import insert_ignoring_duplicates, upsert
from ehx.schemas import CanonicalEvent

_records: TypeAdapter[ConsentTopicRecord] = TypeAdapter(ConsentTopicRecord)


def record_subject(record: ConsentTopicRecord) -> str:
    if isinstance(record, ConsentRecord):
        return record.subject_id
    if isinstance(record, HarmAssertion):
        return record.family_id
    return record.override_id


def record_time(record: ConsentTopicRecord) -> datetime:
    if isinstance(record, ConsentRecord):
        return record.recorded_at
    if isinstance(record, HarmAssertion):
        return record.asserted_at
    return record.reviewed_at


class ConsentStore:
    """The ``ConsentLedger`` the engine reads, and what the service writes after publishing."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._families: dict[str, set[str]] | None = None

    # --- the engine's ledger -----------------------------------------------------------

    def decided(self, event_ids: Sequence[str]) -> set[str]:
        if not event_ids:
            return set()
        with self._engine.connect() as connection:
            return set(
                connection.execute(
                    select(consent_events.c.event_id)
                    .where(consent_events.c.event_id.in_(list(event_ids)))
                    .distinct()
                ).scalars()
            )

    def events(self, event_ids: Sequence[str]) -> dict[str, CanonicalEvent]:
        """These events as on file, by id (those never decided are missing)."""
        if not event_ids:
            return {}
        with self._engine.connect() as connection:
            rows = connection.execute(
                select(consent_events.c.event_id, consent_events.c.body).where(
                    consent_events.c.event_id.in_(list(event_ids))
                )
            ).all()
        return {event_id: CanonicalEvent.from_bytes(body.encode()) for event_id, body in rows}

    def family_events(self, family_ids: Iterable[str]) -> list[CanonicalEvent]:
        wanted = sorted(set(family_ids))
        if not wanted:
            return []
        with self._engine.connect() as connection:
            rows = connection.execute(
                select(consent_events.c.event_id, consent_events.c.body)
                .where(consent_events.c.family_id.in_(wanted))
                .order_by(consent_events.c.occurred_at, consent_events.c.event_id)
            ).all()
        seen: dict[str, CanonicalEvent] = {}
        for event_id, body in rows:
            if event_id not in seen:
                seen[event_id] = CanonicalEvent.from_bytes(body.encode())
        return list(seen.values())

    def families_on_file(self, family_ids: Iterable[str]) -> set[str]:
        wanted = sorted(set(family_ids))
        if not wanted:
            return set()
        with self._engine.connect() as connection:
            return set(
                connection.execute(
                    select(consent_events.c.family_id)
                    .where(consent_events.c.family_id.in_(wanted))
                    .distinct()
                ).scalars()
            )

    def families_of(self, person_id: str) -> set[str]:
        return set(self._person_families().get(person_id, set()))

    def latest(self, decision_ids: Sequence[str]) -> dict[str, Decision]:
        return self._decisions(sharing_decisions.c.decision_id, decision_ids)

    def decisions_of(self, event_ids: Sequence[str]) -> dict[str, Decision]:
        return self._decisions(sharing_decisions.c.event_id, event_ids)

    def _decisions(self, column: Any, values: Sequence[str]) -> dict[str, Decision]:
        """The latest decisions whose ``column`` is one of ``values``, by decision id."""
        if not values:
            return {}
        with self._engine.connect() as connection:
            rows = connection.execute(
                select(sharing_decisions.c.body).where(column.in_(list(values)))
            ).scalars()
            decisions = [Decision.model_validate(body) for body in rows]
        return {d.decision_id: d for d in decisions}

    def restricted(self, person_ids: Iterable[str]) -> set[str]:
        wanted = sorted(set(person_ids))
        if not wanted:
            return set()
        with self._engine.connect() as connection:
            return set(
                connection.execute(
                    select(restricted_people.c.person_id).where(
                        restricted_people.c.person_id.in_(wanted)
                    )
                ).scalars()
            )

    def _person_families(self) -> dict[str, set[str]]:
        if self._families is None:
            families: dict[str, set[str]] = defaultdict(set)
            with self._engine.connect() as connection:
                for family_id, person_ids in connection.execute(
                    select(consent_events.c.family_id, consent_events.c.person_ids)
                ):
                    for person_id in person_ids:
                        families[person_id].add(family_id)
            self._families = families
        return self._families

    # --- what the service writes ---------------------------------------------------------

    def save(self, outbox: Outbox, as_received: Mapping[str, bytes] | None = None) -> None:
        """Store new events on file, relinked ones anew, and the decisions, in one transaction.

        ``as_received``: the bytes each new event arrived as, by event id, kept as they
        are (the signature covers them, fields this version does not know included)
        rather than serialised again (3% of the consent service's time, py-spy at 1,000/s).
        """
        rows: list[dict[str, Any]] = []
        received = as_received or {}
        for event in outbox.held:
            wire = received.get(str(event.event_id))
            rows += _on_file(event, wire.decode() if wire else event.to_bytes().decode())
        for event in outbox.relinked:  # under its new identity: its bytes are new
            rows += _on_file(event, event.to_bytes().decode())
        latest: dict[str, Decision] = {}
        for decision in outbox.decisions:
            if decision.decision_id not in latest or (
                decision.revision > latest[decision.decision_id].revision
            ):
                latest[decision.decision_id] = decision
        with self._engine.begin() as connection:
            if outbox.relinked:
                connection.execute(
                    delete(consent_events).where(
                        consent_events.c.event_id.in_([str(e.event_id) for e in outbox.relinked])
                    )
                )
            insert_ignoring_duplicates(connection, consent_events, rows, count=False)
            if outbox.restricted:
                marked_at = max(
                    (e.recorded_at for e in [*outbox.held, *outbox.relinked]),
                    default=datetime.now(UTC),
                )
                insert_ignoring_duplicates(
                    connection,
                    restricted_people,
                    [
                        {"person_id": p, "restriction": r.value, "marked_at": marked_at}
                        for p, r in sorted(outbox.restricted.items())
                    ],
                    count=False,
                )
            upsert(
                connection,
                sharing_decisions,
                [_decision_row(d, outbox.decision_json(d)) for d in latest.values()],
                ["decision_id"],
            )
        known = self._person_families()
        for row in rows:
            for person_id in row["person_ids"]:
                known[person_id].add(row["family_id"])

    def save_record(self, record: ConsentTopicRecord) -> None:
        with self._engine.begin() as connection:
            upsert(
                connection,
                consent_records,
                [
                    {
                        "record_id": record.record_id,
                        "kind": record.kind,
                        "subject_id": record_subject(record),
                        "recorded_at": record_time(record),
                        "body": record.model_dump(mode="json"),
                    }
                ],
                ["record_id"],
            )
            if isinstance(record, OverrideReview):
                connection.execute(
                    update(sharing_decisions)
                    .where(sharing_decisions.c.decision_id == record.override_id)
                    .values(
                        reviewed_outcome=record.outcome.value,
                        reviewed_by=record.reviewed_by,
                        reviewed_at=record.reviewed_at,
                    )
                )

    def load_registry(self) -> ConsentRegistry:
        with self._engine.connect() as connection:
            bodies = connection.execute(
                select(consent_records.c.body).order_by(consent_records.c.recorded_at)
            ).scalars()
            return ConsentRegistry.of(_records.validate_python(body) for body in bodies)

    # --- what people ask -----------------------------------------------------------------

    def record(self, record_id: str) -> ConsentTopicRecord | None:
        with self._engine.connect() as connection:
            body = connection.execute(
                select(consent_records.c.body).where(consent_records.c.record_id == record_id)
            ).scalar_one_or_none()
        return _records.validate_python(body) if body is not None else None

    def records_about(self, subject_id: str) -> list[ConsentTopicRecord]:
        with self._engine.connect() as connection:
            bodies = connection.execute(
                select(consent_records.c.body)
                .where(consent_records.c.subject_id == subject_id)
                .order_by(consent_records.c.recorded_at)
            ).scalars()
            return [_records.validate_python(body) for body in bodies]

    def decisions(
        self, family_id: str | None = None, outcome: Outcome | None = None
    ) -> list[dict[str, Any]]:
        """Latest decisions with their review state, newest first."""
        query = select(sharing_decisions).order_by(sharing_decisions.c.decided_at.desc())
        if family_id:
            query = query.where(sharing_decisions.c.family_id == family_id)
        if outcome:
            query = query.where(sharing_decisions.c.outcome == outcome.value)
        with self._engine.connect() as connection:
            return [dict(row._mapping) for row in connection.execute(query)]

    def count_decisions(self) -> dict[tuple[str, str], int]:
        counts: dict[tuple[str, str], int] = defaultdict(int)
        with self._engine.connect() as connection:
            for recipient, outcome in connection.execute(
                select(sharing_decisions.c.recipient, sharing_decisions.c.outcome)
            ):
                counts[(recipient, outcome)] += 1
        return dict(counts)

    def keys_destroyed(self) -> int:
        with self._engine.connect() as connection:
            return len(
                connection.execute(
                    select(data_keys.c.key_id).where(data_keys.c.destroyed_at.is_not(None))
                ).all()
            )

    def events_decided(self) -> int:
        with self._engine.connect() as connection:
            return len(set(connection.execute(select(consent_events.c.event_id)).scalars()))


def _decision_row(decision: Decision, body: bytes) -> dict[str, Any]:
    return {
        "decision_id": decision.decision_id,
        "event_id": str(decision.event_id),
        "family_id": decision.family_id,
        "recipient": str(decision.addressee),
        "outcome": decision.outcome.value,
        "rule": decision.rule,
        "revision": decision.revision,
        "decided_at": decision.decided_at,
        "review_due": decision.review_due,
        "body": json_column(body),
    }


def _on_file(event: CanonicalEvent, body: str) -> list[dict[str, Any]]:
    """An event's rows on file: one for each family it is in."""
    people = sorted({s.person_id for s in event.subjects if s.person_id})
    # An event the linker did not link is still on file, under its own id.
    families = {s.family_id for s in event.subjects if s.family_id} or {family_of(event)}
    return [
        {
            "event_id": str(event.event_id),
            "family_id": family_id,
            "person_ids": people,
            "occurred_at": event.occurred_at,
            "body": body,
        }
        for family_id in sorted(families)
    ]
