"""The consent engine on in-memory ports, and the Khan examples linked."""

from __future__ import annotations

import io
from datetime import UTC, datetime

from sqlalchemy import create_engine

from ehx.adapters import ADAPTERS
from ehx.consent import ConsentRegistry, load_policy
from ehx.consent.engine import ConsentEngine
from ehx.consent.memory import MemoryKeyVault, MemoryLedger
from ehx.database import migrate
from ehx.linker.service import Linker
from ehx.linker.store import LinkStore
from ehx.schemas import Agency, CanonicalEvent
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


def memory_engine(
    policy_text: str | None = None,
) -> tuple[ConsentEngine, MemoryLedger, MemoryKeyVault]:
    from ehx.consent import parse_policy

    policy = parse_policy(policy_text) if policy_text else load_policy()
    ledger, vault = MemoryLedger(), MemoryKeyVault()
    return ConsentEngine(policy, vault, ConsentRegistry(), ledger), ledger, vault
