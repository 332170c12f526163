"""Every leaf's proof leads to the batch root; a changed leaf or proof does not."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ehx.schemas.merkle import build, leaf_hash, root_from


@given(st.lists(st.binary(max_size=64), min_size=1, max_size=70))
def test_each_leaf_proves_membership_of_the_root(items: list[bytes]) -> None:
    leaves = [leaf_hash(item) for item in items]
    root, proofs = build(leaves)
    for leaf, proof in zip(leaves, proofs, strict=True):
        assert root_from(leaf, proof) == root


@given(st.lists(st.binary(max_size=64), min_size=2, max_size=40, unique=True), st.data())
def test_another_leaf_does_not_fit_a_proof(items: list[bytes], data: st.DataObject) -> None:
    leaves = [leaf_hash(item) for item in items]
    root, proofs = build(leaves)
    i = data.draw(st.integers(0, len(items) - 1))
    j = data.draw(st.integers(0, len(items) - 1).filter(lambda k: k != i))
    assert root_from(leaves[j], proofs[i]) != root


def test_a_malformed_proof_is_refused() -> None:
    with pytest.raises(ValueError, match="malformed"):
        root_from(leaf_hash(b"x"), ["X:00"])
