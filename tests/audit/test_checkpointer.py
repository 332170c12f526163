"""The audit service signs a checkpoint when one is due, and only then."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import Engine

from ehx.audit.access import AccessLog
from ehx.audit.checkpoints import Due, signature_holds
from ehx.audit.ledger import AuditLedger
from ehx.audit.service import AuditService, Checkpointer
from ehx.database import migrate
from ehx.schemas.audit import AuditRecord

START = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)


def _read(n: int) -> AuditRecord:
    return AuditRecord(
        action="timeline.read",
        actor="sw-1",
        role="mash_screener",
        agency="mash",
        purpose="screening",
        family_id=f"f{n % 5:08d}",
        subject_ids=(f"p{n:08d}",),
        event_ids=(f"e{n}",),
        at=START + timedelta(minutes=n),
    )


def test_a_checkpoint_is_signed_at_every_tenth_entry_and_a_replay_signs_nothing(
    engine: Engine,
) -> None:
    migrate(engine)
    ledger = AuditLedger(engine)
    key = Ed25519PrivateKey.generate()
    # The clock never makes one due here: only the entry count does.
    service = AuditService(ledger, AccessLog(engine), Checkpointer(ledger, key, Due(10, 3600)))
    records = [_read(n) for n in range(25)]
    for start in range(0, 25, 4):  # batches of four: entries 1-4, 5-8, ... 25
        service.take(records[start : start + 4], START)
    points = ledger.checkpoints()
    # Due after the batch that passes each tenth entry: heads 12 and 24.
    assert [p.seq for p in points] == [12, 24]
    hashes = {entry.seq: entry.hash for entry in ledger.entries()}
    assert [p.head_hash for p in points] == [hashes[12], hashes[24]]
    assert all(signature_holds(key.public_key(), p) for p in points)
    assert service.take(records, START) == 0  # all of it again: a replay
    assert [p.seq for p in ledger.checkpoints()] == [12, 24]
