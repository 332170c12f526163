"""The fault runs' checker: it finds what was lost, duplicated or put out of order."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, insert

from bench.checker import check
from ehx.database import linker_mentions, sharing_decisions

#: One mention of one person in family f1; each test gives it its events.
MENTION = {
    "subject_index": 0,
    "person_id": "p1",
    "family_id": "f1",
    "band": "new",
    "weight": None,
    "given_name": "A",
    "family_name": "B",
    "date_of_birth": None,
    "postcode": None,
    "identifiers": [],
    "role": "victim",
    "household": None,
    "related": False,
}


def decision(event_id: str, revision: int, at: datetime) -> dict[str, object]:
    """The MASH's decision on an event (deny), at this revision, made at ``at``."""
    return {
        "decision_id": f"{event_id}:mash",
        "event_id": event_id,
        "family_id": "f1",
        "recipient": "mash",
        "outcome": "deny",
        "revision": revision,
        "decided_at": at,
        "body": {},
    }


def test_the_checker_finds_a_lost_event_a_duplicate_and_a_family_out_of_order(
    engine: Engine,
) -> None:
    """The checker itself: an event nobody received, a mention stored twice, a family
    whose later event was decided first; each is reported, and nothing else is."""
    now = datetime(2026, 11, 23, 9, tzinfo=UTC)
    with engine.begin() as connection:
        connection.execute(
            insert(linker_mentions),
            [{**MENTION, "event_id": e} for e in ("e-first", "e-second", "e-second")],
        )
        connection.execute(
            insert(sharing_decisions),
            [
                decision(e, 1, at)
                for e, at in (("e-first", now + timedelta(seconds=5)), ("e-second", now))
            ],
        )
    found = check(engine, {"e-first": "police", "e-second": "police", "e-never": "police"})
    assert "e-never" in found.lost["intake"] and "e-never" in found.lost["linker"]
    assert found.duplicated["linker"] == ["e-second#0"]
    assert found.out_of_order == ["f1"]
    assert not found.ok
    # The report's examples name each kind: a duplicate does not hide a loss at one stage.
    examples = found.as_dict()["examples"]
    assert examples["duplicated linker"] == ["e-second#0"]
    assert "e-never" in examples["lost linker"]
    # And which events of which family were decided the wrong way round.
    [inversion] = examples["out of order"]
    assert inversion.startswith("family f1: event e-second") and "after e-first" in inversion


def test_an_event_decided_again_later_is_not_out_of_order(engine: Engine) -> None:
    """A relink (two people found to be one) or a change in whom a school serves decides
    an event again, later: the decisions table then holds the later time, the ledger
    the first. Its family is in order."""
    import orjson

    from ehx.database import audit_ledger

    now = datetime(2026, 11, 23, 9, tzinfo=UTC)
    first_decided = {"e-first": now, "e-second": now + timedelta(seconds=1)}
    with engine.begin() as connection:
        connection.execute(
            insert(linker_mentions), [{**MENTION, "event_id": e} for e in first_decided]
        )
        connection.execute(
            insert(sharing_decisions),
            [
                decision(e, revision, at)
                for e, revision, at in (
                    ("e-first", 3, now + timedelta(seconds=9)),  # relinked: decided again
                    ("e-second", 1, first_decided["e-second"]),
                )
            ],
        )
        connection.execute(
            insert(audit_ledger),
            [
                {
                    "seq": n,
                    "audit_id": f"a{n}",
                    "action": "decision.deny",
                    "agency": "mash",
                    "at": at,
                    "previous_hash": "0" * 64,
                    "hash": f"{n}" * 64,
                    "body": orjson.dumps(
                        {
                            "action": "decision.deny",
                            "event_ids": [e],
                            "agency": "mash",
                            "at": at.isoformat(),
                        }
                    ),
                }
                for n, (e, at) in enumerate(first_decided.items(), start=1)
            ],
        )
    found = check(engine, {e: "police" for e in first_decided})
    assert found.out_of_order == []
