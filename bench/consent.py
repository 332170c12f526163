"""Consent decisions per second on one core, with the shipped policy and a realistic registry.

The events are a synthetic city's records, through the real adapters and the linker.
A third of the families have a parent's consent for the early help hub and the school
(a tenth of them later withdrawn), and a few young people consent for themselves. Each
event is decided for every recipient, the views built and sealed (AES-GCM), as the
consent service does; measured once with the ledger in memory (the rules and sealing
alone) and once with the SQLite store the embedded default uses (batches of 500).
"""

from __future__ import annotations

import random
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench.city import generate_city
from ehx.adapters import ADAPTERS
from ehx.adapters.framing import RawRecord
from ehx.consent import (
    ConsentRecord,
    ConsentRegistry,
    ConsentState,
    Giver,
    Purpose,
    SubjectKind,
    load_policy,
)
from ehx.consent.engine import ConsentEngine
from ehx.consent.keys import DataKeyStore
from ehx.consent.memory import MemoryKeyVault, MemoryLedger
from ehx.consent.store import ConsentStore
from ehx.database import migrate, open_engine
from ehx.linker.service import Linker
from ehx.linker.store import LinkStore
from ehx.schemas import CanonicalEvent, Category
from ehx.schemas.vocabulary import Recipient

NOW = datetime(2026, 11, 23, 12, tzinfo=UTC)
BATCH = 500


def linked_city(people: int, seed: int = 2026) -> list[CanonicalEvent]:
    """A synthetic city's events, mapped by the adapters and linked (no broker)."""
    city = generate_city(people, seed)
    engine = open_engine("sqlite://")
    migrate(engine)
    linker = Linker.open(LinkStore(engine))
    events = []
    for number, source in enumerate(city.records):
        raw = RawRecord(source.agency, f"{source.agency}:{number}", b"", parsed=source.data)
        for event in ADAPTERS[source.agency].map(raw, NOW).events:  # type: ignore[index]
            events.append(linker.link(event)[0])
    engine.dispose()
    return events


def realistic_registry(events: list[CanonicalEvent], seed: int = 7) -> ConsentRegistry:
    rng = random.Random(seed)
    registry = ConsentRegistry()
    families = sorted({s.family_id for e in events for s in e.subjects if s.family_id})
    adults = {
        s.family_id: s.person_id
        for e in events
        for s in e.subjects
        if s.role.value in ("victim", "lead_tenant", "partner", "patient") and s.person_id
    }
    for family in families:
        if rng.random() > 1 / 3:
            continue
        consent = ConsentRecord(
            state=ConsentState.GRANTED,
            subject_kind=SubjectKind.FAMILY,
            subject_id=family,
            given_by=adults.get(family),
            giver=Giver.PARENT,
            recorded_by="bench",
            recorded_by_agency=Recipient.EARLY_HELP,
            recipients=(Recipient.EARLY_HELP, Recipient.SCHOOLS),
            categories=tuple(Category),
            purpose=Purpose.EARLY_HELP_ASSESSMENT,
            valid_from=NOW - timedelta(days=30),
            recorded_at=NOW - timedelta(days=30),
        )
        if rng.random() < 0.1:
            consent = consent.withdraw("bench", NOW - timedelta(days=1))
        registry.apply(consent)
    return registry


def measure(events: list[CanonicalEvent], registry: ConsentRegistry, store: bool) -> dict[str, Any]:
    """Decide every event in batches; events and decisions per second."""
    with tempfile.TemporaryDirectory() as scratch:
        if store:
            engine = open_engine(f"sqlite:///{Path(scratch) / 'bench.db'}")
            migrate(engine)
            ledger: Any = ConsentStore(engine)
            vault: Any = DataKeyStore(engine)
        else:
            ledger, vault = MemoryLedger(), MemoryKeyVault()
        consent = ConsentEngine(load_policy(), vault, registry, ledger)
        decisions = views = 0
        started = time.perf_counter()
        for start in range(0, len(events), BATCH):
            out = consent.on_events(events[start : start + BATCH], NOW)
            vault.flush()  # the service writes new keys before it publishes
            ledger.save(out)
            decisions += len(out.decisions)
            views += len(out.messages)
        seconds = time.perf_counter() - started
        if store:
            engine.dispose()
    return {
        "events": len(events),
        "decisions": decisions,
        "views": views,
        "seconds": seconds,
        "events_per_second": len(events) / seconds,
        "decisions_per_second": decisions / seconds,
    }
