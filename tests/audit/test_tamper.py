"""Tamper tests: every way of altering a stored ledger makes ``verify`` fail and name the place.

The ledger is real (SQLite, and PostgreSQL where it runs); the tampering is done the way
an insider would, with SQL against the tables.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import Engine, delete, update

from ehx.audit.chain import link
from ehx.audit.checkpoints import CheckpointExport, sign
from ehx.audit.ledger import AuditLedger
from ehx.audit.verify import Verdict, verify
from ehx.database import audit_checkpoints, audit_ledger, migrate
from ehx.schemas.audit import AuditRecord

START = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)
KEY = Ed25519PrivateKey.generate()


def _read(n: int) -> AuditRecord:
    return AuditRecord(
        action="timeline.read",
        actor=f"sw-{n % 3}",
        role="mash_screener",
        agency="mash",
        purpose="screening",
        family_id=f"f{n % 5:08d}",
        subject_ids=(f"p{n:08d}",),
        event_ids=(f"e{n}",),
        at=START + timedelta(minutes=n),
    )


@pytest.fixture
def ledger(engine: Engine) -> AuditLedger:
    """30 entries, checkpoints signed at entries 10, 20 and 30."""
    migrate(engine)
    ledger = AuditLedger(engine)
    for start in (0, 10, 20):
        ledger.append([_read(n) for n in range(start, start + 10)])
        head = ledger.head()
        assert head is not None
        ledger.add_checkpoint(sign(KEY, head.seq, head.hash, START + timedelta(hours=start)))
    return ledger


def _verify(ledger: AuditLedger, kept: CheckpointExport | None = None) -> Verdict:
    return verify(ledger.entries(page=7), ledger.checkpoints(), KEY.public_key(), kept)


def _set(engine: Engine, seq: int, **values: object) -> None:
    with engine.begin() as connection:
        connection.execute(update(audit_ledger).where(audit_ledger.c.seq == seq).values(**values))


def _row(engine: Engine, seq: int) -> dict[str, object]:
    with engine.connect() as connection:
        row = connection.execute(audit_ledger.select().where(audit_ledger.c.seq == seq)).mappings()
        return dict(row.one())


def _rechain_from(engine: Engine, seq: int) -> None:
    """What an insider who knows the scheme does after a change: recompute every hash."""
    previous = str(_row(engine, seq - 1)["hash"]) if seq > 1 else "0" * 64
    last = AuditLedger(engine).head()
    assert last is not None
    for n in range(seq, last.seq + 1):
        body = bytes(_row(engine, n)["body"])  # type: ignore[call-overload]
        digest = link(previous, n, body)
        _set(engine, n, previous_hash=previous, hash=digest)
        previous = digest


def test_an_untouched_ledger_holds(ledger: AuditLedger) -> None:
    verdict = _verify(ledger)
    assert verdict.ok, verdict.problems
    assert (verdict.entries, verdict.checkpoints) == (30, 3)


def test_one_flipped_byte_is_found_at_its_entry(ledger: AuditLedger, engine: Engine) -> None:
    body = bytearray(bytes(_row(engine, 17)["body"]))  # type: ignore[call-overload]
    body[body.index(b"sw-") + 3] ^= 0x01  # sw-2 becomes sw-3: someone else read it
    _set(engine, 17, body=bytes(body))
    verdict = _verify(ledger)
    assert not verdict.ok
    assert verdict.problems[0].startswith("entry 17: altered")


def test_a_deleted_entry_is_named(ledger: AuditLedger, engine: Engine) -> None:
    with engine.begin() as connection:
        connection.execute(delete(audit_ledger).where(audit_ledger.c.seq == 12))
    assert _verify(ledger).problems[0].startswith("entry 12: missing")


def test_two_swapped_entries_are_found_at_the_first(ledger: AuditLedger, engine: Engine) -> None:
    a, b = _row(engine, 5), _row(engine, 6)
    # Swap the contents (and their hashes): the order of what happened changes.
    _set(
        engine, 5, audit_id="tmp", body=b["body"], previous_hash=b["previous_hash"], hash=b["hash"]
    )
    _set(
        engine,
        6,
        audit_id=a["audit_id"],
        body=a["body"],
        previous_hash=a["previous_hash"],
        hash=a["hash"],
    )
    _set(engine, 5, audit_id=b["audit_id"])
    assert _verify(ledger).problems[0].startswith("entry 5: ")


def test_an_inserted_forged_entry_is_found(ledger: AuditLedger, engine: Engine) -> None:
    # Make room at 8 by moving 8..30 up one, then forge an entry at 8.
    with engine.begin() as connection:
        for seq in range(30, 7, -1):
            connection.execute(
                update(audit_ledger).where(audit_ledger.c.seq == seq).values(seq=seq + 1)
            )
    forged = _read(99).model_copy(update={"actor": "nobody"})
    from ehx.audit.chain import canonical_bytes

    body = canonical_bytes(forged)
    previous = str(_row(engine, 7)["hash"])
    with engine.begin() as connection:
        connection.execute(
            audit_ledger.insert().values(
                seq=8,
                audit_id=str(forged.audit_id),
                action=forged.action,
                agency=forged.agency,
                at=forged.at,
                body=body,
                previous_hash=previous,
                hash=link(previous, 8, body),
            )
        )
    problems = _verify(ledger).problems
    assert problems[0].startswith("entry 9: ")  # the entry after the forgery no longer follows


def test_a_change_with_the_chain_recomputed_is_caught_by_the_checkpoint(
    ledger: AuditLedger, engine: Engine
) -> None:
    body = bytes(_row(engine, 14)["body"]).replace(b"sw-", b"xx-")  # type: ignore[call-overload]
    _set(engine, 14, body=body)
    _rechain_from(engine, 14)
    verdict = _verify(ledger)
    assert not verdict.ok
    assert verdict.problems[0].startswith(
        "entries 11-20: the checkpoint at entry 20 does not match"
    )


def test_a_truncated_tail_is_found(ledger: AuditLedger, engine: Engine) -> None:
    with engine.begin() as connection:
        connection.execute(delete(audit_ledger).where(audit_ledger.c.seq > 24))
    problem = _verify(ledger).problems[0]
    assert problem.startswith("entry 25: missing: the ledger ends at entry 24")


def test_a_forged_checkpoint_signature_is_found(ledger: AuditLedger, engine: Engine) -> None:
    with engine.begin() as connection:
        connection.execute(
            update(audit_checkpoints)
            .where(audit_checkpoints.c.seq == 20)
            .values(head_hash="0" * 64)
        )
    problems = _verify(ledger).problems
    assert any(
        p.startswith("checkpoint at entry 20: its signature does not hold") for p in problems
    )


def test_a_fork_from_a_checkpoint_is_found_against_the_partners_copy(
    ledger: AuditLedger, engine: Engine, tmp_path: Path
) -> None:
    # The partner agency kept the checkpoints as they were (through entry 30).
    kept_file = tmp_path / "kept.json"
    kept_file.write_text(
        CheckpointExport.of(KEY.public_key(), ledger.checkpoints()).model_dump_json()
    )
    # The operator rewrites history after checkpoint 10, re-chains and re-signs: by
    # itself the ledger now holds.
    for seq in range(11, 31):
        body = bytes(_row(engine, seq)["body"]).replace(b"sw-", b"zz-")  # type: ignore[call-overload]
        _set(engine, seq, body=body)
    _rechain_from(engine, 11)
    with engine.begin() as connection:
        connection.execute(delete(audit_checkpoints).where(audit_checkpoints.c.seq > 10))
    for seq in (20, 30):
        ledger.add_checkpoint(sign(KEY, seq, str(_row(engine, seq)["hash"]), START))
    assert _verify(ledger).ok
    kept = CheckpointExport.model_validate_json(kept_file.read_bytes())
    verdict = _verify(ledger, kept)
    assert not verdict.ok
    assert "forked" in verdict.problems[0]
    assert verdict.problems[0].startswith("entries 11-20")


def test_a_ledger_that_extends_the_kept_copy_holds(ledger: AuditLedger) -> None:
    kept = CheckpointExport.of(KEY.public_key(), ledger.checkpoints()[:2])
    ledger.append([_read(n) for n in range(30, 35)])
    verdict = _verify(ledger, kept)
    assert verdict.ok, verdict.problems
    assert verdict.kept == 2


def test_appending_the_same_records_again_adds_nothing(ledger: AuditLedger) -> None:
    again = [_read(n) for n in range(0, 10)]
    # A replayed batch carries the same audit ids (the stage's stable ids).
    first = [f.record for f in ledger.find(actions=["timeline.read"])][:10]
    assert ledger.append(first) == []
    assert ledger.count() == 30
    assert len(ledger.append(again)) == 10  # new ids: new acts
