"""The linker's memory: a restart, or families grouped again after a review, gives every
mention the same person and family as the running linker had."""

from __future__ import annotations

from sqlalchemy import Engine

from bench.city import generate_city
from bench.evaluate import NOW
from ehx.adapters import ADAPTERS
from ehx.adapters.framing import RawRecord
from ehx.database import migrate
from ehx.linker.families import regroup
from ehx.linker.index import JournalEntry, Op
from ehx.linker.relinks import current_links
from ehx.linker.service import Linker
from ehx.linker.store import LinkedMention, LinkStore
from ehx.schemas import Agency, CanonicalEvent


def test_a_restarted_linker_and_a_regrouping_agree_with_the_live_one(engine: Engine) -> None:
    migrate(engine)
    store = LinkStore(engine)
    live = Linker.open(store)
    city = generate_city(people=1200, seed=5)
    batch = []
    for number, source in enumerate(city.records):
        adapter = ADAPTERS[Agency(source.agency)]
        raw = RawRecord(source.agency, f"{source.agency}:{number}", b"", parsed=source.data)
        for event in adapter.map(raw, NOW).events:
            batch += live.link(event)[1]
        if len(batch) > 300:
            store.save(batch, live.identities.take_journal())
            batch = []
    store.save(batch, live.identities.take_journal())

    mentions = store.mentions()
    assert any(m.band == "linked" for m in mentions)  # merges are in the journal
    expected = current_links(mentions, live.identities.person, live.families.family_of)
    restarted = Linker.open(LinkStore(engine))
    identities = restarted.identities
    assert current_links(mentions, identities.person, restarted.families.family_of) == expected
    regrouped = regroup(mentions, live.identities.person, live.families._next)
    assert current_links(mentions, live.identities.person, regrouped.family_of) == expected


def test_the_index_loads_while_a_running_linker_writes_between_the_two_reads(
    engine: Engine,
) -> None:
    """Another process (consent, say) starting while the linker writes: the journal can
    gain a merge between reading the mentions and reading the journal. Loading must
    still work (it once failed with a KeyError on the merged person)."""
    migrate(engine)
    store = LinkStore(engine)
    live = Linker.open(store)
    city = generate_city(people=300, seed=11)
    events = [
        event
        for number, source in enumerate(city.records)
        for event in ADAPTERS[Agency(source.agency)]
        .map(RawRecord(source.agency, f"{source.agency}:{number}", b"", parsed=source.data), NOW)
        .events
    ]
    half = len(events) // 2

    def link(batch: list[CanonicalEvent]) -> None:
        made = [m for event in batch for m in live.link(event)[1]]
        store.save(made, live.identities.take_journal())

    link(events[:half])

    class Racing(LinkStore):
        """Lets the running linker commit its next batch right after either read."""

        written = False

        def _race(self) -> None:
            if not self.written:
                self.written = True
                link(events[half:])

        def mentions(self) -> list[LinkedMention]:
            found = super().mentions()
            self._race()
            return found

        def journal(self) -> list[JournalEntry]:
            found = super().journal()
            self._race()
            return found

    racing = Racing(engine)
    identities, _ = racing.load()
    assert racing.written
    assert any(op.op is Op.MERGE for op in store.journal())  # the second half merged people
    assert identities.knows(next(iter(identities.people())))


def test_a_batch_that_failed_after_linking_is_linked_again_as_the_first_time(
    engine: Engine,
) -> None:
    """The store write failed after the batch was linked (and published): the replay must
    link it as a linker that never saw it would, not match each record to itself, and
    never hand an id the failed batch published to someone else."""
    migrate(engine)
    store = LinkStore(engine)
    events = city_events(people=200, seed=3, records=150)
    first, failed = events[:100], events[100:]

    def shape(rows: list[tuple[str, str, str]]) -> list[tuple[int, int, str]]:
        """Who is one person and which one family, whatever the ids are called."""
        people: dict[str, int] = {}
        families: dict[str, int] = {}
        return [
            (people.setdefault(p, len(people)), families.setdefault(f, len(families)), band)
            for p, f, band in rows
        ]

    live = Linker.open(store)
    stored = [m for event in first for m in live.link(event)[1]]
    store.save(stored, live.identities.take_journal())
    expected = link(Linker.open(store), failed)  # a linker that never saw the failed batch

    published = link(live, failed)
    live.reserve()  # as the service does before it publishes; then the store write failed
    assert shape(link(live, failed)) != shape(expected)  # linked again: records match themselves
    live.reload()
    again = link(live, failed)
    assert shape(again) == shape(expected)
    known = {m.person_id for m in stored} | {m.family_id for m in stored}
    assert (ids(published) - known).isdisjoint(ids(again))


def test_a_linker_restarted_after_publishing_what_it_never_stored_reuses_no_id(
    engine: Engine,
) -> None:
    """Killed between publishing a batch and storing it: the restarted linker links the
    replay (fetched, say, in another order) without giving an id consent already holds
    for one person to another."""
    migrate(engine)
    store = LinkStore(engine)
    events = city_events(people=200, seed=4, records=150)
    first, lost = events[:100], events[100:]
    live = Linker.open(store)
    stored = [m for event in first for m in live.link(event)[1]]
    store.save(stored, live.identities.take_journal())
    published = link(live, lost)
    live.reserve()  # as the service does before it publishes; then it is killed

    restarted = Linker.open(LinkStore(engine))
    again = link(restarted, lost[::-1])
    known = {m.person_id for m in stored} | {m.family_id for m in stored}
    assert ids(published) - known  # the lost batch did hand out new ids
    assert (ids(published) - known).isdisjoint(ids(again))


def city_events(people: int, seed: int, records: int) -> list[CanonicalEvent]:
    """The first ``records`` of a synthetic city, as the adapters map them."""
    city = generate_city(people=people, seed=seed)
    return [
        event
        for number, source in enumerate(city.records[:records])
        for event in ADAPTERS[Agency(source.agency)]
        .map(RawRecord(source.agency, f"{source.agency}:{number}", b"", parsed=source.data), NOW)
        .events
    ]


def link(linker: Linker, batch: list[CanonicalEvent]) -> list[tuple[str, str, str]]:
    """(person, family, band) of every mention, as the linker links the batch."""
    made = [m for event in batch for m in linker.link(event)[1]]
    return [(m.person_id, m.family_id, m.band) for m in made]


def ids(rows: list[tuple[str, str, str]]) -> set[str]:
    return {i for person, family, _ in rows for i in (person, family)}
