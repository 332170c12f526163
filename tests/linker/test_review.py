"""The clerical review queue: an uncertain pair is queued with its evidence, a reviewer's
decision is applied, and it survives a restart."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime

from sqlalchemy import Engine

from adapters import ADAPTERS
from database import migrate
from linker import LinkStore
from linker.service import Linker
from schemas import Agency, CanonicalEvent
from schemas.links import ReviewDecision
from tests.consent.fakes import NOW


def incident(ref: str, person_ref: str, given: str, born: str, postcode: str) -> CanonicalEvent:
    """A police incident about one person, with no identifier shared with any other."""
    adapter = ADAPTERS[Agency.POLICE]
    raw = io.BytesIO(police_line(ref, person_ref, given, born, postcode))
    [frame] = list(adapter.frame(raw, "t.jsonl"))
    [event] = adapter.map(frame, NOW).events
    return event


def police_line(ref: str, person_ref: str, given: str, born: str, postcode: str) -> bytes:
    line = {
        "incident_ref": ref,
        "version": 1,
        "force": "West Midlands Police",
        "occurred_at": "2026-11-01T21:00:00Z",
        "reported_at": "2026-11-01T21:10:00Z",
        "type": "domestic_abuse",
        "summary": "Report of shouting.",
        "location": {"address": "1 High Street, Birmingham", "postcode": postcode},
        "dash_risk": "standard",
        "children_present": False,
        "weapon_involved": False,
        "persons": [
            {
                "person_ref": person_ref,
                "pnc_id": None,
                "given_name": given,
                "family_name": "Hussain",
                "date_of_birth": born,
                "role": "victim",
                "address": "1 High Street, Birmingham",
                "postcode": postcode,
            }
        ],
        "officer": {"collar_number": "1234", "name": "PC Test"},
    }
    return json.dumps(line).encode() + b"\n"


MOHAMMED = ("WMP-1", "WMP-P-1", "Mohammed", "2012-03-04", "B11 4AA")
#: Name variant, day and month swapped, another postcode: 18.8 bits, between the bands.
MUHAMMAD = ("WMP-2", "WMP-P-2", "Muhammad", "2012-04-03", "B12 9ZZ")


def test_an_uncertain_pair_is_queued_decided_and_the_merge_survives_a_restart(
    engine: Engine,
) -> None:
    migrate(engine)
    store = LinkStore(engine)
    linker = Linker.open(store)
    first, made_a = linker.link(incident(*MOHAMMED))
    second, made_b = linker.link(incident(*MUHAMMAD))
    taken = linker.take_reviews()
    store.save_reviews(taken)
    store.save([*made_a, *made_b])
    a, b = first.subjects[0].person_id or "", second.subjects[0].person_id or ""
    assert a != b  # not linked automatically

    [queued] = store.reviews()
    assert {queued["person_id"], queued["candidate_id"]} == {a, b}
    assert 16 <= queued["weight"] < 22
    fields = {f["field"]: f for f in queued["evidence"]["fields"]}
    assert fields["given_name"]["level"] == "variant" and fields["given_name"]["weight"] > 0
    assert fields["postcode"]["weight"] < 0  # evidence against, shown too
    assert queued["candidate"]["given_name"] in ("Mohammed", "Muhammad")

    decision = ReviewDecision(
        review_id=queued["review_id"],
        person_id=queued["person_id"],
        candidate_id=queued["candidate_id"],
        same_person=True,
        decided_by="sw-9",
        reason="same school, same mother on the school's record",
        decided_at=datetime.now(UTC),
    )
    linker.apply(decision)
    store.record_decision(decision)
    assert linker.identities.person(b) == linker.identities.person(a) == min(a, b)
    assert store.reviews() == []  # decided: off the queue

    restarted = Linker.open(LinkStore(engine))
    assert restarted.identities.person(max(a, b)) == min(a, b)
    # The same pair queued again (a replayed batch) is kept once, decided.
    store.save_reviews(taken)
    [kept] = store.reviews(open_only=False)
    assert (kept["same_person"], kept["decided_by"]) == (True, "sw-9")


def test_a_pair_kept_apart_stays_two_people(engine: Engine) -> None:
    migrate(engine)
    store = LinkStore(engine)
    linker = Linker.open(store)
    first, _ = linker.link(incident(*MOHAMMED))
    second, _ = linker.link(incident(*MUHAMMAD))
    [review] = linker.take_reviews()
    store.save_reviews([review])
    linker.apply(
        ReviewDecision(
            review_id=review.review_id,
            person_id=review.person_id,
            candidate_id=review.candidate_id,
            same_person=False,
            decided_by="sw-9",
            reason="different fathers named on the birth records",
            decided_at=datetime.now(UTC),
        )
    )
    a, b = first.subjects[0].person_id or "", second.subjects[0].person_id or ""
    assert linker.identities.person(a) != linker.identities.person(b)
