"""The linker keeps its decisions: reopened from its store, it knows the same people."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Engine

from ehx.linker.service import Linker
from ehx.linker.store import LinkStore
from ehx.schemas import Agency, family_key
from tests.records import events

NOW = datetime(2026, 11, 23, 12, tzinfo=UTC)


def test_a_restarted_linker_knows_the_people_it_linked_before(engine: Engine) -> None:
    linker = Linker.open(LinkStore(engine))
    before: dict[str, str] = {}
    for event in events(Agency.POLICE, "police.jsonl"):
        linked, decisions = linker.link(event)
        linker.store.save(decisions, linker.identities.take_journal())
        before.update({s.demographics.given_name: s.person_id or "" for s in linked.subjects})
    family = linker.families.family_of(before["Amina"])

    restarted = Linker.open(LinkStore(engine))
    [ed] = events(Agency.HEALTH, "health-amina-ed.json")
    linked, _ = restarted.link(ed)
    assert linked.subjects[0].person_id == before["Amina"]
    assert linked.subjects[0].family_id == family
    assert linked.subjects[0].match_confidence is not None
    assert (
        LinkStore(engine).linked([str(e.event_id) for e in events(Agency.HOUSING, "housing.jsonl")])
        == set()
    )


def test_linked_events_are_keyed_by_the_family_not_a_bystander() -> None:
    from sqlalchemy import create_engine

    from ehx.database import migrate

    engine = create_engine("sqlite://")
    migrate(engine)
    linker = Linker.open(LinkStore(engine))
    [incident, _] = events(Agency.POLICE, "police.jsonl")
    linked, _ = linker.link(incident)
    assert family_key(linked) == linked.subjects[0].family_id
    assert {s.family_id for s in linked.subjects} == {family_key(linked)}


def test_a_record_written_twice_side_by_side_is_linked_once(engine: Engine) -> None:
    # A producer's retry after a broker failed can put the same raw record twice in one
    # batch; the second copy must not become a second mention (nor a second linked event).
    linker = Linker.open(LinkStore(engine))
    [incident, other] = events(Agency.POLICE, "police.jsonl")
    linked, decisions = linker.link_new([incident, other, incident])
    assert [e.event_id for e in linked] == [incident.event_id, other.event_id]
    assert len(decisions) == len(incident.subjects) + len(other.subjects)
    linker.store.save(decisions, linker.identities.take_journal())
    again, _ = linker.link_new([other, incident])
    assert again == []  # a replay after a crash: all stored already


def test_a_record_that_shows_two_people_to_be_one_joins_them_and_relinks_their_events() -> None:
    """Clusters, not pairs. Sibbilla's first record and her record at another address
    differ in a birth-date digit too (review band, two people). Her second record at the
    first address then matches both people surely, and their own records match as well
    as a pair a reviewer is asked about: one person, and every event already sent about
    either goes out again naming her and her one family."""
    from sqlalchemy import create_engine

    from ehx.database import migrate
    from ehx.schemas.links import JOINED
    from tests.records import incident

    engine = create_engine("sqlite://")
    migrate(engine)
    linker = Linker.open(LinkStore(engine))
    first = ("WMP-1", "P-1", "Sibbilla", "2008-04-05", "B85 8ZH")
    moved = ("WMP-2", "P-2", "Sibbilla", "2008-04-04", "B20 1XY")
    events_sent = [incident(*row) for row in (first, moved)]
    for event in events_sent:
        _, made = linker.link_new([event])
        linker.store.save(made, linker.identities.take_journal())
    people = {linker.identities.person(m.person_id) for m in linker.store.mentions()}
    assert len(people) == 2 and linker.take_relinks() == []

    bridge = incident("WMP-3", "P-3", "Sibbilla", "2008-04-04", "B85 8ZH")
    [linked], _ = linker.link_new([bridge])
    relinked = linker.take_relinks()
    person = linker.identities.person(linked.subjects[0].person_id or "")
    family = linker.families.family_of(person)
    assert {linker.identities.person(p) for p in people} == {person}
    assert str(events_sent[1].event_id) in {str(r.event_id) for _, r in relinked}
    for _, relink in relinked:
        assert relink.cause == f"{JOINED} {bridge.event_id}"
        assert [(s.person_id, s.family_id) for s in relink.subjects] == [(person, family)]
