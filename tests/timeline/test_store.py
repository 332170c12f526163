"""The timeline store contract, on SQLite and PostgreSQL alike."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Engine

from ehx.consent.memory import MemoryKeyVault
from ehx.schemas.views import Retraction, ShareView
from ehx.timeline.reading import open_entry
from ehx.timeline.store import TimelineQuery, TimelineStore
from tests.consent.fakes import linked_khans, memory_engine
from tests.records import NOW

KHANS = linked_khans()


@pytest.fixture(scope="module")
def views() -> list[ShareView]:
    engine, _, _ = memory_engine()
    out = engine.on_events(KHANS, NOW)
    return [m for m in out.messages if isinstance(m, ShareView) and m.recipient == "early_help"]


def retract(view: ShareView, revision: int) -> Retraction:
    return Retraction(
        event_id=view.event_id,
        decision_id=view.decision_id,
        revision=revision,
        recipient=view.recipient,
        family_id=view.family_id,
        reason="consent withdrawn",
        retracted_at=NOW,
    )


def hub(**narrowing: Any) -> TimelineQuery:
    return TimelineQuery("early_help", **narrowing)


def test_entries_are_idempotent_by_event_id_and_in_the_order_things_happened(
    engine: Engine, views: list[ShareView]
) -> None:
    store = TimelineStore(engine)
    first = store.apply(views)
    again = store.apply(reversed(views))
    assert first.shown == len(views) and again.replays == len(views) and again.shown == 0
    shown = store.entries(hub(family_id=views[0].family_id))
    assert [v.event_id for v in shown] == [
        v.event_id for v in sorted(views, key=lambda v: (v.occurred_at, str(v.event_id)))
    ]


def test_a_retraction_removes_the_entry_and_a_late_older_copy_does_not_bring_it_back(
    engine: Engine, views: list[ShareView]
) -> None:
    store = TimelineStore(engine)
    store.apply(views)
    gone = views[0]
    assert store.apply([retract(gone, 2)]).retracted == 1
    store.apply([gone])  # revision 1 again, late
    assert gone.event_id not in {v.event_id for v in store.entries(hub())}
    back = gone.model_copy(update={"revision": 3})
    store.apply([back])
    assert gone.event_id in {v.event_id for v in store.entries(hub())}


def test_a_correction_supersedes_the_earlier_version_whichever_arrives_first(
    engine: Engine, views: list[ShareView]
) -> None:
    from uuid import uuid4

    original = views[0]
    corrected = original.model_copy(update={"event_id": uuid4(), "record_version": 2})
    for order in ([original, corrected], [corrected, original]):
        store = TimelineStore(engine)
        store.clear()
        store.apply(order)
        ids = {v.event_id for v in store.entries(hub())}
        assert corrected.event_id in ids and original.event_id not in ids


def test_filters_by_person_category_agency_and_dates(
    engine: Engine, views: list[ShareView]
) -> None:
    store = TimelineStore(engine)
    store.apply(views)
    child = next(s.person_id for v in views for s in v.subjects if s.role == "child_present")
    about_child = store.entries(hub(person_id=child))
    assert about_child and all(child in {s.person_id for s in v.subjects} for v in about_child)
    housing = store.entries(hub(agencies=frozenset({"housing"})))
    assert housing and {v.source_agency for v in housing} == {"housing"}
    health = store.entries(hub(categories=frozenset({"health_problems"})))
    assert health and all("health_problems" in v.categories for v in health)
    latest = max(v.occurred_at for v in views)
    recent = store.entries(hub(since=latest - timedelta(days=1)))
    assert recent and all(v.occurred_at >= latest - timedelta(days=1) for v in recent)
    assert store.entries(TimelineQuery("housing")) == []  # another recipient's view


def test_a_reader_opens_only_what_their_keys_still_open() -> None:
    engine, _, vault = memory_engine()
    out = engine.on_events(KHANS, NOW)
    [school] = [m for m in out.messages if isinstance(m, ShareView) and m.recipient == "schools"]
    entry = open_entry(school, vault)
    assert entry.readable and all(p.name and p.name.endswith("Khan") for p in entry.people)
    assert "Operation Encompass" in entry.why and "domestic abuse" in entry.what
    stranger = open_entry(school, MemoryKeyVault())
    assert not stranger.readable and all(p.name is None for p in stranger.people)


def test_a_view_is_kept_as_it_arrived_and_read_back_by_timeline_and_alert_desk_alike(
    engine: Engine, views: list[ShareView]
) -> None:
    """The service stores each view's bytes as read off its topic, not serialised again:
    the store must hold the same rows either way, and a newer writer's field it does
    not know must not stop a reader (the timeline or the alert desk) reading the view."""
    import orjson

    store = TimelineStore(engine)
    store.apply(views)
    serialised = store.snapshot()
    store.clear()
    store.apply(views, [v.model_dump_json().encode() for v in views])
    assert store.snapshot() == serialised

    store.clear()
    newer = [orjson.dumps({**orjson.loads(v.model_dump_json()), "added_later": 1}) for v in views]
    store.apply(views, newer)
    family = views[0].family_id
    assert store.entries(hub(family_id=family)) == [
        v
        for v in sorted(views, key=lambda v: (v.occurred_at, str(v.event_id)))
        if v.family_id == family
    ]
    known: dict[tuple[str, str, int], ShareView] = {}
    read = store.family_views(["early_help"], [family], known)
    assert read[family] == store.entries(hub(family_id=family))
    assert len(known) == len(read[family])  # parsed once, and kept for the next batch
    with pytest.raises(ValueError, match="one value for each message"):
        store.apply(views, newer[:1])


@pytest.mark.parametrize("seed", range(5))
def test_a_whole_batch_leaves_the_store_as_one_message_at_a_time_does(
    engine: Engine, views: list[ShareView], seed: int
) -> None:
    """Views, corrections (a record's higher version), retractions, replays and late
    copies, shuffled: applied in one batch or one by one, the same rows, the same counts."""
    import random
    from uuid import uuid4

    rng = random.Random(seed)
    messages: list[ShareView | Retraction] = []
    for base in rng.sample(views, min(6, len(views))):
        ref = f"{base.record_ref}-{seed}"
        for version in range(1, rng.randint(2, 4)):
            view = base.model_copy(
                update={"event_id": uuid4(), "record_ref": ref, "record_version": version}
            )
            for revision in range(1, rng.randint(2, 4)):
                copy = view.model_copy(update={"revision": revision})
                messages.append(copy if rng.random() > 0.2 else retract(copy, revision))
    messages += rng.sample(messages, len(messages) // 3)  # replays and late copies
    rng.shuffle(messages)

    store = TimelineStore(engine)
    counted = store.apply(messages)
    batched = store.snapshot()
    store.clear()
    singles = [store.apply([m]) for m in messages]
    assert store.snapshot() == batched
    for name in ("shown", "retracted", "superseded", "replays"):
        assert getattr(counted, name) == sum(getattr(s, name) for s in singles)
    assert counted.superseded + counted.retracted > 0  # the case under test happened


def test_a_long_timeline_pages_back_from_the_latest_and_every_entry_comes_once(
    engine: Engine, views: list[ShareView]
) -> None:
    """Pages of 7, latest first, each oldest first inside: together, the whole timeline in
    order, none twice; entries at the same moment are told apart by their event id."""
    from uuid import uuid4

    base = views[0]
    long = [
        base.model_copy(
            update={
                "event_id": uuid4(),
                "record_ref": f"page-{n}",
                # Pairs at one moment: the page boundary must fall between them correctly.
                "occurred_at": base.occurred_at + timedelta(hours=n // 2),
            }
        )
        for n in range(40)
    ]
    store = TimelineStore(engine)
    store.apply(long)
    whole = store.entries(hub(family_id=base.family_id))
    pages, before = [], None
    while True:
        page = store.page(hub(family_id=base.family_id, limit=7, before=before))
        pages.append(page.entries)
        if page.before is None:
            break
        before = page.before
    assert [len(p) for p in pages] == [7] * (len(whole) // 7) + [len(whole) % 7]
    assert [v.event_id for p in reversed(pages) for v in p] == [v.event_id for v in whole]
    assert pages[0][-1].event_id == whole[-1].event_id  # the first page is the latest


def test_a_filtered_page_counts_only_what_the_filter_keeps(
    engine: Engine, views: list[ShareView]
) -> None:
    store = TimelineStore(engine)
    store.apply(views)
    health = store.entries(hub(categories=frozenset({"health_problems"})))
    page = store.page(hub(categories=frozenset({"health_problems"}), limit=1))
    assert [v.event_id for v in page.entries] == [health[-1].event_id]
    assert page.earlier == (len(health) > 1)


def test_a_page_before_an_entry_the_timeline_does_not_hold_is_refused(engine: Engine) -> None:
    from ehx.timeline.store import UnknownEntry

    with pytest.raises(UnknownEntry, match="no entry nope in early_help's timeline"):
        TimelineStore(engine).entries(hub(limit=5, before="nope"))


def test_why_is_in_the_policys_words_not_a_rule_id() -> None:
    """Issue 31, eighth finding: raw rule ids (domestic_abuse_high_risk_children_present)
    were on screen where a screener reads why they may see an entry."""
    from ehx.schemas.views import ShareView
    from ehx.timeline.reading import basis_text
    from tests.consent.fakes import INCIDENT, memory_engine, variant

    engine, _, _ = memory_engine()
    out = engine.on_events([variant(INCIDENT, dash_risk="high")], NOW)
    [mash] = [m for m in out.messages if isinstance(m, ShareView) and m.recipient == "mash"]
    why = basis_text(mash)
    assert why.startswith("significant harm override: A domestic abuse incident")
    assert "domestic_abuse_high_risk_children_present" not in why
    assert "Children Act 1989" in why
