"""A SHA-256 hash tree, so one Ed25519 signature covers a whole batch of events.

Each event carries the sibling hashes from its leaf to the root (its inclusion proof);
a verifier recomputes the root and checks one signature per batch. Leaves and inner
nodes are hashed with different prefixes (RFC 6962) so one cannot pass for the other.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

LEFT, RIGHT = "L", "R"


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def build(leaves: Sequence[bytes]) -> tuple[bytes, list[tuple[str, ...]]]:
    """The root over ``leaves`` and, for each leaf, its proof as ``"L:hex"``/``"R:hex"`` steps.

    An odd node at the end of a level moves up unchanged (and adds no proof step).
    """
    if not leaves:
        raise ValueError("a hash tree needs at least one leaf")
    proofs: list[list[str]] = [[] for _ in leaves]
    # positions[i] is the index, at the current level, of the node above leaf i.
    positions = list(range(len(leaves)))
    level = list(leaves)
    while len(level) > 1:
        above = []
        for index in range(0, len(level) - 1, 2):
            above.append(node_hash(level[index], level[index + 1]))
        if len(level) % 2:
            above.append(level[-1])
        for leaf, position in enumerate(positions):
            sibling = position ^ 1
            if sibling < len(level):
                side = RIGHT if sibling > position else LEFT
                proofs[leaf].append(f"{side}:{level[sibling].hex()}")
            positions[leaf] = position // 2
        level = above
    return level[0], [tuple(proof) for proof in proofs]


def root_from(leaf: bytes, proof: Sequence[str]) -> bytes:
    """Fold an inclusion proof over a leaf hash; raises ValueError if the proof is malformed."""
    node = leaf
    for step in proof:
        side, _, digest = step.partition(":")
        sibling = bytes.fromhex(digest)
        if len(sibling) != hashlib.sha256().digest_size or side not in (LEFT, RIGHT):
            raise ValueError("malformed inclusion proof")
        node = node_hash(node, sibling) if side == RIGHT else node_hash(sibling, node)
    return node
