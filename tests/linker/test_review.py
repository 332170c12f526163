"""The clerical review queue: an uncertain pair is queued with its evidence, a reviewer's
decision is applied, and it survives a restart."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine

from ehx.database import migrate
from ehx.linker.people import composition, merge_decision
from ehx.linker.service import Linker
from ehx.linker.store import LinkStore
from ehx.schemas.errors import LinkDecisionRefused
from ehx.schemas.links import ReviewDecision
from tests.records import MOHAMMED, MUHAMMAD, incident


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
    store.save([*made_a, *made_b], linker.identities.take_journal())
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
    moved = linker.apply(decision)
    store.save((), linker.identities.take_journal(), decision)
    assert linker.identities.person(b) == linker.identities.person(a) == min(a, b)
    assert store.reviews() == []  # decided: off the queue
    # The event already sent about the merged-away person goes out again, relinked, on
    # the partition its first link went to.
    later = second if min(a, b) == a else first
    [(key, relink)] = moved
    assert relink.event_id == later.event_id
    assert key == later.subjects[0].family_id
    [link] = relink.subjects
    assert (link.person_id, link.match_confidence) == (min(a, b), 1.0)
    assert link.family_id == (first if later is second else second).subjects[0].family_id
    assert linker.apply(decision) == []  # applied twice: nothing more moves

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


def test_a_wrong_merge_is_split_and_the_events_go_back(engine: Engine) -> None:
    migrate(engine)
    store = LinkStore(engine)
    linker = Linker.open(store)
    first, made_a = linker.link(incident(*MOHAMMED))
    second, made_b = linker.link(incident(*MUHAMMAD))
    store.save([*made_a, *made_b], linker.identities.take_journal())
    a, b = first.subjects[0].person_id or "", second.subjects[0].person_id or ""

    def decided(same: bool, person: str, other: str) -> ReviewDecision:
        return ReviewDecision(
            review_id=f"{'merge' if same else 'split'}:{person}~{other}",
            person_id=person,
            candidate_id=other,
            same_person=same,
            decided_by="sw-9",
            reason="checked with the school and the GP",
            decided_at=datetime.now(UTC),
        )

    merge = decided(True, a, b)
    linker.apply(merge)
    store.save((), linker.identities.take_journal(), merge)
    # Read from the store alone (the console, `ehx links person`): one person, two ids.
    assert store.root(max(a, b)) == min(a, b)
    assert store.members([min(a, b)]) == {a: min(a, b), b: min(a, b)}
    whole = composition(store, max(a, b))
    assert whole is not None and [m["id"] for m in whole["members"]] == [min(a, b), max(a, b)]
    split = decided(False, max(a, b), min(a, b))
    [(key, relink)] = linker.apply(split)
    store.save((), linker.identities.take_journal(), split)
    later = second if max(a, b) == b else first
    assert relink.event_id == later.event_id and key == later.subjects[0].family_id
    [link] = relink.subjects
    # Its own person and its own family again, as before the wrong merge.
    assert (link.person_id, link.family_id) == (max(a, b), later.subjects[0].family_id)

    assert store.root(max(a, b)) == max(a, b)
    assert store.members([min(a, b)]) == {min(a, b): min(a, b)}

    restarted = Linker.open(LinkStore(engine))
    assert restarted.identities.person(max(a, b)) == max(a, b)
    assert restarted.families.family_of(max(a, b)) == later.subjects[0].family_id
    history = store.history([a, b])
    assert [h["op"] for h in history] == ["merge", "split"]
    assert history[1]["decided_by"] == "sw-9"


def test_a_decision_about_someone_the_linker_never_saw_is_refused_not_retried(
    engine: Engine,
) -> None:
    migrate(engine)
    store = LinkStore(engine)
    linker = Linker.open(store)
    first, made = linker.link(incident(*MOHAMMED))
    store.save(made, linker.identities.take_journal())
    known = first.subjects[0].person_id or ""
    typo = ReviewDecision(
        review_id="merge:typo",
        person_id=known,
        candidate_id="p00009999",
        same_person=True,
        decided_by="sw-9",
        reason="a typo in the second id",
        decided_at=datetime.now(UTC),
    )
    with pytest.raises(LinkDecisionRefused, match="no person p00009999"):
        linker.apply(typo)
    assert linker.identities.take_journal() == []  # nothing changed
    # The CLI and the API check before anything is sent.
    with pytest.raises(ValueError, match="no person p00009999"):
        merge_decision(store, known, "p00009999", "sw-9", "a typo")
    with pytest.raises(ValueError, match="one person already"):
        merge_decision(store, known, known, "sw-9", "the same id twice")
