"""A person as the linker holds them, and the decisions a reviewer makes about one.

For ``ehx links person|family|merge|split`` and the API: which ids (each with its own
records) make one person now and what joined them, and a family's history, read from the
linker's store without loading its indexes; and the ``ReviewDecision`` events that merge
two people or split one off.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from ehx.linker.history import history
from ehx.linker.store import LinkStore
from ehx.schemas.links import ReviewDecision
from ehx.schemas.vocabulary import WITHHELD


def people_in_reviews(reviews: list[dict[str, Any]]) -> tuple[str, ...]:
    """Everyone a page of the review queue shows (both sides of each pair), for the ledger."""
    return tuple(sorted({r[key] for r in reviews for key in ("person_id", "candidate_id")}))


def composition(store: LinkStore, person_id: str) -> dict[str, Any] | None:
    """The person ``person_id`` is part of: every id in it with its records, and history."""
    root = store.root(person_id)
    members = store.members([root])
    ids = [root, *sorted(set(members) - {root})]
    records = store.records_of(ids)
    if not records:
        return None
    parents = store.merged_into(ids)
    return {
        "person_id": root,
        "members": [
            {
                "id": member,
                "merged_into": parents[member],
                "records": [r for r in records if r["person_id"] == member],
            }
            for member in ids
        ],
        "history": store.history(ids),
    }


def family_history(store: LinkStore, family_id: str) -> dict[str, Any] | None:
    """Who was in this family when, and where they lived from when to when (None: no
    such family). People merged into one by a reviewer show once, under the one id."""
    appearances = store.family_appearances(family_id)
    if not appearances:
        return None
    found = {"family_id": family_id, **history(appearances)}
    if store.restricted_among(store.members({a.person_id for a in appearances})):
        found["addresses_withheld"] = WITHHELD
    return found


def merge_decision(
    store: LinkStore, person_id: str, other_id: str, by: str, reason: str
) -> ReviewDecision:
    """Two people are one: ``other_id`` joins ``person_id``. ValueError naming the problem
    if either is unknown or they are one person already."""
    unknown = sorted({person_id, other_id} - store.known([person_id, other_id]))
    if unknown:
        raise ValueError(f"the linker has no person {' or '.join(unknown)}")
    if store.root(person_id) == store.root(other_id):
        raise ValueError(f"{person_id} and {other_id} are one person already")
    now = datetime.now(UTC)
    return ReviewDecision(
        review_id=f"merge:{person_id}~{other_id}@{now:%Y%m%dT%H%M%S}",
        person_id=person_id,
        candidate_id=other_id,
        same_person=True,
        decided_by=by,
        reason=reason,
        decided_at=now,
    )


def split_decision(store: LinkStore, person_id: str, by: str, reason: str) -> ReviewDecision:
    """``person_id`` was wrongly merged: its own person again. ValueError if not merged."""
    if store.merged_into([person_id])[person_id] is None:
        raise ValueError(
            f"{person_id} is not merged into anyone: `ehx links person {person_id}` shows "
            "the ids that make a person, and a split names one of them"
        )
    now = datetime.now(UTC)
    return ReviewDecision(
        review_id=f"split:{person_id}@{now:%Y%m%dT%H%M%S}",
        person_id=person_id,
        candidate_id=store.root(person_id),
        same_person=False,
        decided_by=by,
        reason=reason,
        decided_at=now,
    )
