"""The hash chain: how a ledger entry is bound to everything before it, and how to check it.

Pure: no database, no Kafka. Entry ``n``'s hash is SHA-256 over the previous entry's
hash, ``n`` itself and the entry's canonical bytes, so changing, removing, reordering or
inserting an entry breaks the chain at that entry. Someone who can rewrite the database
can also recompute every hash after a change; signed checkpoints (``checkpoints.py``),
and the copies partner agencies keep of them, catch that.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass

import orjson

from ehx.schemas.audit import AuditRecord

#: The "previous hash" of the first entry.
GENESIS = "0" * 64


def canonical_bytes(record: AuditRecord) -> bytes:
    """One record, one byte string: sorted keys, no whitespace, ISO 8601 instants."""
    return orjson.dumps(record.model_dump(mode="json"), option=orjson.OPT_SORT_KEYS)


def link(previous_hash: str, seq: int, body: bytes) -> str:
    digest = hashlib.sha256(bytes.fromhex(previous_hash))
    digest.update(seq.to_bytes(8, "big"))
    digest.update(body)
    return digest.hexdigest()


@dataclass(frozen=True)
class LedgerEntry:
    """One appended record, as stored: its position, its bytes and its place in the chain."""

    seq: int
    body: bytes
    previous_hash: str
    hash: str

    @property
    def record(self) -> AuditRecord:
        return AuditRecord.model_validate_json(self.body)


def extend(head: LedgerEntry | None, records: Iterable[AuditRecord]) -> list[LedgerEntry]:
    """The entries that append ``records`` after ``head`` (``None``: an empty ledger)."""
    seq, previous = (head.seq, head.hash) if head else (0, GENESIS)
    entries = []
    for record in records:
        seq += 1
        body = canonical_bytes(record)
        entry = LedgerEntry(seq, body, previous, link(previous, seq, body))
        entries.append(entry)
        previous = entry.hash
    return entries


@dataclass(frozen=True)
class Break:
    """The first place the chain does not hold, and what is wrong there."""

    seq: int
    problem: str

    def __str__(self) -> str:
        return f"entry {self.seq}: {self.problem}"


class ChainWalker:
    """Feed entries in seq order; it remembers the first break and the last good hash.

    Streaming, so ``ehx audit verify`` reads a ledger of millions of entries in pages.
    """

    def __init__(self) -> None:
        self.count = 0
        self.last_seq = 0
        self.last_hash = GENESIS
        self.broken: Break | None = None
        #: The hash at each seq a checkpoint names, filled in as the walk passes it.
        self.hashes_at: dict[int, str] = {}
        self.watch: set[int] = set()

    def feed(self, entry: LedgerEntry) -> bool:
        """Check one entry; False once the chain is broken (stop feeding)."""
        if self.broken:
            return False
        expected = self.last_seq + 1
        if entry.seq != expected:
            gap = (
                f"missing (the ledger jumps from entry {self.last_seq} to {entry.seq}): removed"
                if entry.seq > expected
                else "out of order"
            )
            self.broken = Break(expected, gap)
            return False
        if entry.previous_hash != self.last_hash:
            self.broken = Break(
                entry.seq,
                "does not follow the entry before it (inserted, reordered, or the one "
                "before was removed)",
            )
            return False
        if link(entry.previous_hash, entry.seq, entry.body) != entry.hash:
            self.broken = Break(entry.seq, "altered: its contents do not match its hash")
            return False
        self.count += 1
        self.last_seq = entry.seq
        self.last_hash = entry.hash
        if entry.seq in self.watch:
            self.hashes_at[entry.seq] = entry.hash
        return True
