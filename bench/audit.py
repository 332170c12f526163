"""Audit ledger append and verify rates (entries/s), SQLite and PostgreSQL.

Each repetition appends ``entries`` synthetic audit records (reads and decisions, ids
only) to a fresh ledger in batches of 500, as the audit service does with a batch off
``ehx.audit``, signing a checkpoint every 1,000 entries; then ``verify`` walks the whole
chain and checks every checkpoint. The baseline, measured in the same run on the same
database: the same rows inserted in the same batches into a plain table, no chain.
"""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import (
    Column,
    Engine,
    Integer,
    LargeBinary,
    MetaData,
    Table,
    delete,
    insert,
)

from bench.databases import scratch_databases
from bench.report import spread
from ehx.audit.chain import canonical_bytes
from ehx.audit.checkpoints import sign
from ehx.audit.ledger import AuditLedger
from ehx.audit.verify import verify
from ehx.database import audit_checkpoints, audit_ledger, audit_subjects, migrate
from ehx.schemas.audit import AuditRecord

BATCH = 500
CHECKPOINT_EVERY = 1_000


def records(count: int) -> list[AuditRecord]:
    start = datetime(2026, 11, 2, 8, tzinfo=UTC)
    made = []
    for n in range(count):
        read = n % 4 == 0
        made.append(
            AuditRecord(
                action="timeline.read" if read else "decision.allow",
                actor=f"sw-{n % 40}" if read else "ehx:consent",
                role="mash_screener" if read else "system",
                agency="mash" if read else "schools",
                purpose="screening" if read else "consent",
                family_id=f"f{n % 5_000:08d}",
                subject_ids=(f"p{n % 20_000:08d}", f"p{(n + 1) % 20_000:08d}"),
                event_ids=(str(uuid.uuid4()),),
                bases=(str(uuid.uuid4()),),
                at=start + timedelta(seconds=n),
            )
        )
    return made


def _plain(engine: Engine, made: list[AuditRecord]) -> float:
    table = Table(
        "bench_plain",
        MetaData(),
        Column("seq", Integer, primary_key=True, autoincrement=False),
        Column("body", LargeBinary),
    )
    table.drop(engine, checkfirst=True)
    table.create(engine)
    started = time.perf_counter()
    for at in range(0, len(made), BATCH):
        rows = [
            {"seq": at + i, "body": canonical_bytes(r)} for i, r in enumerate(made[at : at + BATCH])
        ]
        with engine.begin() as connection:
            connection.execute(insert(table), rows)
    elapsed = time.perf_counter() - started
    table.drop(engine)
    return len(made) / elapsed


def _clear(engine: Engine) -> None:
    with engine.begin() as connection:
        for table in (audit_subjects, audit_checkpoints, audit_ledger):
            connection.execute(delete(table))


def _once(engine: Engine, made: list[AuditRecord]) -> dict[str, float]:
    _clear(engine)
    key = Ed25519PrivateKey.generate()
    ledger = AuditLedger(engine)
    started = time.perf_counter()
    for at in range(0, len(made), BATCH):
        ledger.append(made[at : at + BATCH])
        if (at + BATCH) % CHECKPOINT_EVERY == 0:
            head = ledger.head()
            assert head is not None
            ledger.add_checkpoint(sign(key, head.seq, head.hash, datetime.now(UTC)))
    append = len(made) / (time.perf_counter() - started)
    started = time.perf_counter()
    verdict = verify(ledger.entries(), ledger.checkpoints(), key.public_key())
    checked = len(made) / (time.perf_counter() - started)
    assert verdict.ok and verdict.entries == len(made), verdict.problems
    return {"append": append, "verify": checked, "baseline_insert": _plain(engine, made)}


def _measure(engine: Engine, entries: int, repeat: int) -> dict[str, Any]:
    migrate(engine)
    made = records(entries)
    runs = [_once(engine, made) for _ in range(repeat)]
    return {
        "entries": entries,
        "append_per_second": spread([r["append"] for r in runs]),
        "verify_per_second": spread([r["verify"] for r in runs]),
        "baseline_insert_per_second": spread([r["baseline_insert"] for r in runs]),
        "append_vs_baseline": spread([r["append"] / r["baseline_insert"] for r in runs]),
    }


def run(postgres_url: str | None, entries: int = 50_000, repeat: int = 3) -> dict[str, Any]:
    with scratch_databases(postgres_url) as databases:
        return {name: _measure(engine, entries, repeat) for name, engine in databases}
