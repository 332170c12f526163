"""Fakes for the consent engine's ports (unit tests only), and linked Khan examples."""

from __future__ import annotations

import io
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime

from sqlalchemy import create_engine

from adapters import ADAPTERS
from consent import ConsentEngine, ConsentRegistry, Decision, Outbox, load_policy
from consent.keys import MemoryKeyVault
from database import migrate
from linker import Linker, LinkStore
from schemas import Agency, CanonicalEvent
from tests.helpers import EXAMPLES

NOW = datetime(2026, 11, 23, 12, tzinfo=UTC)

KHAN_FILES = (
    (Agency.POLICE, "police.jsonl"),
    (Agency.HEALTH, "health-amina-ed.json"),
    (Agency.HEALTH, "health-maryam-not-brought.json"),
    (Agency.SCHOOLS, "schools.csv"),
    (Agency.HOUSING, "housing.jsonl"),
)


def raw_events(agency: Agency, name: str) -> list[CanonicalEvent]:
    adapter = ADAPTERS[agency]
    frames = adapter.frame(io.BytesIO((EXAMPLES / name).read_bytes()), name)
    return [e for frame in frames for e in adapter.map(frame, NOW).events]


def linked_khans() -> list[CanonicalEvent]:
    """The shared examples, linked: four Khans in one family."""
    engine = create_engine("sqlite://")
    migrate(engine)
    linker = Linker.open(LinkStore(engine))
    return [linker.link(e)[0] for a, n in KHAN_FILES for e in raw_events(a, n)]


class MemoryLedger:
    """A ``ConsentLedger`` in memory: what the SQL store keeps, kept in dicts."""

    def __init__(self) -> None:
        self.events: dict[str, CanonicalEvent] = {}
        self.decisions: dict[str, Decision] = {}

    def decided(self, event_ids: Sequence[str]) -> set[str]:
        return {e for e in event_ids if e in self.events}

    def family_events(self, family_ids: Iterable[str]) -> list[CanonicalEvent]:
        wanted = set(family_ids)
        return sorted(
            (e for e in self.events.values() if {s.family_id for s in e.subjects} & wanted),
            key=lambda e: (e.occurred_at, str(e.event_id)),
        )

    def families_of(self, person_id: str) -> set[str]:
        return {
            s.family_id or ""
            for e in self.events.values()
            for s in e.subjects
            if s.person_id == person_id
        }

    def latest(self, decision_ids: Sequence[str]) -> dict[str, Decision]:
        return {d: self.decisions[d] for d in decision_ids if d in self.decisions}

    def save(self, outbox: Outbox) -> None:
        for event in outbox.held:
            self.events[str(event.event_id)] = event
        for decision in outbox.decisions:
            before = self.decisions.get(decision.decision_id)
            if before is None or decision.revision > before.revision:
                self.decisions[decision.decision_id] = decision


def memory_engine(
    policy_text: str | None = None,
) -> tuple[ConsentEngine, MemoryLedger, MemoryKeyVault]:
    from consent import parse_policy

    policy = parse_policy(policy_text) if policy_text else load_policy()
    ledger, vault = MemoryLedger(), MemoryKeyVault()
    return ConsentEngine(policy, vault, ConsentRegistry(), ledger), ledger, vault
