"""``ehx audit verify``: the chain, the signed checkpoints, and optionally a partner's kept copy.

Pure over what it is given (entries in seq order, checkpoints, keys), so tests can tamper
with a ledger in every way and check the finding names the place.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from ehx.audit.chain import ChainWalker, LedgerEntry
from ehx.audit.checkpoints import Checkpoint, CheckpointExport, key_id, signature_holds


@dataclass
class Verdict:
    entries: int = 0
    last_seq: int = 0
    checkpoints: int = 0
    kept: int = 0
    #: Every problem found, most important (earliest in the ledger) first.
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def as_dict(self) -> dict[str, object]:
        return {
            "ok": self.ok,
            "entries": self.entries,
            "last_seq": self.last_seq,
            "checkpoints_checked": self.checkpoints,
            "kept_checkpoints_checked": self.kept,
            "problems": self.problems,
        }


def verify(
    entries: Iterable[LedgerEntry],
    checkpoints: Sequence[Checkpoint],
    public_key: Ed25519PublicKey,
    kept: CheckpointExport | None = None,
) -> Verdict:
    verdict = Verdict()
    found: list[tuple[int, str]] = []  # (where, what): sorted by place at the end
    for checkpoint in checkpoints:
        if not signature_holds(public_key, checkpoint):
            found.append(
                (
                    checkpoint.seq,
                    f"checkpoint at entry {checkpoint.seq}: its signature does "
                    "not hold (forged or altered)",
                )
            )
    kept_points: tuple[Checkpoint, ...] = ()
    if kept is not None:
        kept_key = kept.public_key()
        if key_id(kept_key) != key_id(public_key):
            found.append((0, "this ledger is signed with another key than the one you kept"))
        kept_points = tuple(c for c in kept.checkpoints if signature_holds(kept_key, c))
        if len(kept_points) != len(kept.checkpoints):
            found.append((0, "the kept copy holds checkpoints whose signature does not hold"))

    walker = ChainWalker()
    walker.watch = {c.seq for c in checkpoints} | {c.seq for c in kept_points}
    for entry in entries:
        if not walker.feed(entry):
            break
    verdict.entries = walker.count
    verdict.last_seq = walker.last_seq
    if walker.broken:
        found.append((walker.broken.seq, str(walker.broken)))

    def against(points: Sequence[Checkpoint], whose: str) -> int:
        checked = 0
        previous_good = 0
        for point in sorted(points, key=lambda c: c.seq):
            if point.seq > walker.last_seq:
                if walker.broken is None:
                    found.append(
                        (
                            walker.last_seq + 1,
                            f"entry {walker.last_seq + 1}: missing: the ledger ends at entry "
                            f"{walker.last_seq}, but {whose} at entry {point.seq} vouches "
                            "for more (the tail was cut off)",
                        )
                    )
                break
            checked += 1
            if walker.hashes_at.get(point.seq) != point.head_hash:
                first = previous_good + 1
                if whose == "a kept checkpoint":
                    what = (
                        f"forked: the kept checkpoint at entry {point.seq} does not match this "
                        f"ledger; it matches the kept copy up to entry {previous_good}"
                    )
                else:
                    what = (
                        f"{whose} at entry {point.seq} does not match: an entry between "
                        f"{first} and {point.seq} was changed and the chain recomputed"
                    )
                found.append((first, f"entries {first}-{point.seq}: {what}"))
                break
            previous_good = point.seq
        return checked

    verdict.checkpoints = against(checkpoints, "the checkpoint")
    verdict.kept = against(kept_points, "a kept checkpoint")
    verdict.problems = [what for _, what in sorted(found, key=lambda f: f[0])]
    return verdict
