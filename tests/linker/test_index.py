"""The identity index and families: the Khan examples, bands, twins, merges and splits."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime

from ehx.adapters import ADAPTERS
from ehx.linker import Band, FamilyIndex, IdentityIndex, Member, PersonRecord, mentions_of
from ehx.linker.index import Op
from ehx.linker.training import LEARNT
from ehx.schemas import Agency
from tests.helpers import EXAMPLES

NOW = datetime(2026, 11, 23, 12, tzinfo=UTC)
FILES = {
    Agency.POLICE: ["police.jsonl"],
    Agency.HEALTH: ["health-amina-ed.json", "health-maryam-not-brought.json"],
    Agency.SCHOOLS: ["schools.csv"],
    Agency.HOUSING: ["housing.jsonl"],
}


def test_the_shared_examples_resolve_to_four_people_in_one_family() -> None:
    identities, families = IdentityIndex(), FamilyIndex()
    names: dict[str, set[str]] = {}
    for agency, files in FILES.items():
        for name in files:
            for frame in ADAPTERS[agency].frame(io.BytesIO((EXAMPLES / name).read_bytes()), name):
                for event in ADAPTERS[agency].map(frame, NOW).events:
                    members = []
                    for mention in mentions_of(event):
                        resolution = identities.resolve(mention.record)
                        names.setdefault(resolution.person_id, set()).add(mention.record.given_name)
                        members.append(
                            Member(
                                resolution.person_id,
                                mention.role,
                                mention.household,
                                mention.related,
                            )
                        )
                    families.observe(members)
    people = list(identities.people())
    assert sorted(min(names[p]) for p in people) == ["Amina", "Imran", "Maryam", "Yusuf"]
    assert len({families.family_of(p) for p in people}) == 1
    assert identities.review == []


def test_a_known_identifier_links_outright() -> None:
    index = IdentityIndex()
    first = index.resolve(
        PersonRecord("Yusuf", "Khan", None, None, frozenset({"upn:Z330200019001"}))
    )
    again = index.resolve(
        PersonRecord("Joe", "Smith", None, None, frozenset({"upn:Z330200019001"}))
    )
    assert again.band is Band.DETERMINISTIC and again.person_id == first.person_id


def test_an_uncertain_pair_goes_to_review_with_evidence() -> None:
    index = IdentityIndex()
    first = index.resolve(PersonRecord("Amina", "Khan", date(1990, 3, 14), "B11 4AA"))
    # A variant spelling at the same postcode, no date of birth: likely, not certain.
    maybe = index.resolve(PersonRecord("Aminah", "Khan", None, "B11 4AA"))
    assert maybe.band is Band.REVIEW and maybe.person_id != first.person_id
    [item] = index.review
    assert (item.person_id, item.candidate_id) == (maybe.person_id, first.person_id)
    assert {f.field for f in item.evidence.fields} >= {"given_name", "date_of_birth"}


def test_twins_are_never_linked_automatically() -> None:
    index = IdentityIndex()
    a = index.resolve(PersonRecord("Hassan", "Ali", date(2015, 5, 1), "B8 1AB"))
    b = index.resolve(PersonRecord("Hussein", "Ali", date(2015, 5, 1), "B8 1AB"))
    assert a.person_id != b.person_id
    assert b.band in (Band.REVIEW, Band.NEW)


def test_a_merge_is_reversible() -> None:
    index = IdentityIndex()
    a = index.resolve(PersonRecord("Lee", "Hall", date(1985, 1, 2), "B1 1AA", frozenset({"pnc:1"})))
    b = index.resolve(PersonRecord("Lee", "Hall", date(1985, 2, 1), "B9 9ZZ", frozenset({"pnc:2"})))
    index.merge(a.person_id, b.person_id, "review-1")
    assert index.person(b.person_id) == a.person_id
    assert index.split(b.person_id, "review-2")
    assert index.person(b.person_id) == b.person_id
    again = index.resolve(PersonRecord("Lee", "Hall", None, None, frozenset({"pnc:2"})))
    assert again.person_id == b.person_id
    # Split and kept apart: a record carrying both identifiers no longer joins them.
    both = index.resolve(PersonRecord("Lee", "Hall", None, None, frozenset({"pnc:1", "pnc:2"})))
    assert index.person(a.person_id) != index.person(b.person_id)
    assert both.person_id == a.person_id
    assert [e.op for e in index.journal] == [Op.MERGE, Op.SPLIT]


def test_a_probabilistic_link_can_be_split_off_exactly() -> None:
    index = IdentityIndex()
    first = index.resolve(PersonRecord("Amina", "Khan", date(1990, 3, 4), "B11 4AA", frozenset()))
    second = index.resolve(PersonRecord("Amina", "Khan", date(1990, 3, 4), "B11 4AA", frozenset()))
    assert second.band is Band.LINKED
    assert second.person_id == first.person_id
    assert second.own != first.person_id
    assert index.members(first.person_id) == [first.person_id, second.own]
    assert index.split(second.own, "review-9")
    assert index.person(second.own) == second.own
    assert index.records_of(first.person_id) == [index.records_of(first.person_id)[0]]
    assert index.kept_apart(first.person_id, second.own)


def test_the_journal_replayed_on_restored_records_gives_the_same_people() -> None:
    live = IdentityIndex()
    records = [
        PersonRecord("Lee", "Hall", date(1985, 1, 2), "B1 1AA", frozenset({"pnc:1"})),
        PersonRecord("Lee", "Hall", date(1985, 1, 2), "B1 1AA", frozenset()),
        PersonRecord("Lee", "Hall", date(1985, 2, 1), "B9 9ZZ", frozenset({"pnc:2"})),
        PersonRecord("L", "Hall", None, None, frozenset({"pnc:1", "pnc:2"})),
    ]
    owns = [live.resolve(r).own for r in records]
    live.split(owns[1], "review-3")
    restored = IdentityIndex()
    for own, record in zip(owns, records, strict=True):
        restored.restore(own, record)
    for entry in live.take_journal():
        restored.replay(entry)
    assert restored.journal == []
    assert [restored.person(o) for o in owns] == [live.person(o) for o in owns]


def test_family_ids_are_stable_when_two_families_join() -> None:
    families = FamilyIndex()
    families.observe(
        [Member("p1", "lead_tenant", "B1:1", True), Member("p2", "child", "B1:1", True)]
    )
    families.observe([Member("p3", "lead_tenant", "B2:5", True)])
    older, newer = families.family_of("p1"), families.family_of("p3")
    # A police incident: a child present with the adult from the other household.
    families.observe([Member("p3", "suspect", "B2:5"), Member("p2", "child_present", "B1:1")])
    assert families.family_of("p3") == families.family_of("p1") == older
    assert families.merges == [(newer, older)]


def test_a_witness_is_not_made_family() -> None:
    families = FamilyIndex()
    families.observe(
        [
            Member("p1", "victim", "B1:1"),
            Member("p9", "witness", "B1:1"),
            Member("p2", "suspect", "B1:1"),
        ]
    )
    assert families.family_of("p1") == families.family_of("p2")
    families.observe([Member("p9", "subject", "B7:3")])
    assert families.family_of("p9") != families.family_of("p1")


def test_a_mother_reporting_her_daughter_missing_from_home_is_her_family() -> None:
    """Issue 31, seventh finding: the mother, at the same address and the reporting
    person, was put in a separate family; a neighbour reporting is still not family."""
    families = FamilyIndex()
    families.observe(
        [
            Member("p1", "missing_person", "B9:27"),
            Member("p2", "reporting_person", "B9:27"),
            Member("p3", "reporting_person", "B9:31"),
        ]
    )
    assert families.family_of("p1") == families.family_of("p2")
    assert families.family_of("p3") != families.family_of("p1")


TIE = """
from datetime import date
from ehx.linker import IdentityIndex, PersonRecord
record = PersonRecord("Sam", "Khan", date(2010, 1, 1), "B11 4AA")
index = IdentityIndex()
for n in range(1, 9):  # eight people on file whom the record matches equally well
    index.restore(f"p{n:08d}", record)
print(index.resolve(record).person_id)
"""


def test_a_record_matching_people_equally_well_goes_to_the_same_one_every_run() -> None:
    import os
    import subprocess
    import sys

    chosen = {
        subprocess.run(
            [sys.executable, "-c", TIE],
            env=os.environ | {"PYTHONHASHSEED": str(seed)},
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        for seed in range(6)
    }
    assert chosen == {"p00000001"}  # the first known, whatever the hash seed


def test_a_conflicting_nhs_number_with_all_else_agreeing_goes_to_review_not_away() -> None:
    """One digit mistyped that still passes the check: rare, but a reviewer should see
    it, with the conflict shown; it is never linked without one."""
    index = IdentityIndex()
    on_file = index.resolve(
        PersonRecord("Amina", "Khan", date(1990, 3, 14), "B11 4AA", frozenset({"nhs:9434765919"}))
    )
    typo = index.resolve(
        PersonRecord("Amina", "Khan", date(1990, 3, 14), "B11 4AA", frozenset({"nhs:9434765870"}))
    )
    assert typo.band is Band.REVIEW and typo.candidate_id == on_file.person_id
    [item] = index.review
    assert {(f.field, f.level) for f in item.evidence.fields} >= {
        ("identifiers", "conflict"),
        ("date_of_birth", "exact"),
    }
    # A twin (another given name, another NHS number) is never linked on its own.
    twin = index.resolve(
        PersonRecord("Sara", "Khan", date(1990, 3, 14), "B11 4AA", frozenset({"nhs:9434765888"}))
    )
    assert twin.band in (Band.NEW, Band.REVIEW) and twin.person_id != on_file.person_id


def test_records_of_one_person_that_differ_in_two_ways_still_meet_in_a_block() -> None:
    """Each pair misses the first passes (name codes, birth date, family name and
    postcode): only a later pass brings them together to be compared at all."""
    from ehx.linker.blocking import blocking_keys

    amina = PersonRecord("Amina", "Khan", date(1990, 3, 4), "B11 4AA")
    for other in (
        PersonRecord("Khan", "Amina", date(1990, 3, 5), None),  # names swapped, a day off
        PersonRecord("Amina", "Kham", date(1990, 4, 3), None),  # a letter; day and month
        PersonRecord("Aminah", "Khna", date(1991, 3, 4), "B11 4AA"),  # the street only
    ):
        assert blocking_keys(amina).meet(blocking_keys(other)), other


def test_a_nickname_or_a_swap_with_a_second_slip_still_meets_its_full_record() -> None:
    """Each pair differs in two ways at once, on no shared address: a short form and a
    birth-date digit, a short form alone, a swap with a typo, a family-name slip and a
    month wrong. Harsh samples lost one true pair in fifty this way before the passes
    for them."""
    from ehx.linker.blocking import blocking_keys

    william = PersonRecord("William", "Ashby", date(2012, 3, 2), "B11 4AA")
    for other in (
        PersonRecord("Bill", "Ashby", date(2082, 3, 2), "B60 4YR"),  # a year digit wrong
        PersonRecord("Billy", "Ashbey", date(2012, 3, 2), "B60 4YR"),
        PersonRecord("Ashby", "Wliliam", date(2012, 3, 2), "B60 4YR"),  # swapped, mistyped
        PersonRecord("William", "Ashbt", date(2012, 7, 2), None),  # a letter; the month
    ):
        assert blocking_keys(william).meet(blocking_keys(other)), other
        assert blocking_keys(other).meet(blocking_keys(william)), other


def test_a_record_without_a_birth_date_or_a_name_still_meets_the_records_it_matches() -> None:
    """The wide keys (a name pair alone, a birth date and a letter) are searched by the
    records that lack the field the narrow ones need, and only by them."""
    from ehx.linker.blocking import blocking_keys

    amina = blocking_keys(PersonRecord("Amina", "Khan", date(1990, 3, 4), "B11 4AA"))
    undated = blocking_keys(PersonRecord("Amina", "Khan", None, "B20 1XY"))
    unnamed = blocking_keys(PersonRecord("", "Kahn", date(1990, 3, 4), "B20 1XY"))
    assert amina.meet(undated) and undated.meet(amina)
    assert amina.meet(unnamed)


def test_sharing_a_birthday_with_a_stranger_is_not_enough_to_be_compared() -> None:
    """In a city of a million, thirty people share each birth date: scoring them all for
    every record made linking five times slower there than at 20,000 people. Records
    that share a birth date and nothing else of their names or address never meet."""
    from ehx.linker.blocking import blocking_keys

    born = date(1990, 3, 4)
    amina = blocking_keys(PersonRecord("Amina", "Khan", born, "B11 4AA"))
    for stranger in (
        PersonRecord("Oliver", "Jones", born, "B29 6TT"),
        PersonRecord("Tomasz", "Nowak", born, None),
        # Born the same month of the same year, with one of her names.
        PersonRecord("Zara", "Khan", date(1990, 3, 20), None),
        PersonRecord("Amina", "Patel", date(1990, 3, 22), "B29 6TT"),
    ):
        assert not amina.meet(blocking_keys(stranger)), stranger
    # The same day and a first letter in common: a family name mistyped at its start.
    assert amina.meet(blocking_keys(PersonRecord("Amina", "Qhan", born, None)))


def test_a_record_matching_two_people_surely_joins_them_and_a_reviewer_can_split_them() -> None:
    """Her first record and one at another address differ in a birth-date digit too: two
    people, a pair for review. Her second record at the first address matches both
    surely, and their own records match as well as a pair a reviewer is asked about:
    two sure links and a fair one make them one."""
    born, typo = date(2008, 4, 4), date(2008, 4, 5)
    index = IdentityIndex()
    first = index.resolve(PersonRecord("Sibbilla", "Hussain", typo, "B85 8ZH"))
    moved = index.resolve(PersonRecord("Sibbilla", "Hussain", born, "B20 1XY"))
    assert moved.band is Band.REVIEW and index.person(moved.person_id) != index.person(first.own)
    bridge = index.resolve(PersonRecord("Sibbilla", "Hussain", born, "B85 8ZH"))
    assert [other for other, _ in bridge.joined] == [index.person(moved.own)]
    index.join(bridge)
    assert index.person(first.own) == index.person(moved.own) == bridge.person_id
    assert f"through {bridge.own}" in index.journal[-1].cause
    # Reversible: a reviewer splits her moved person off again, and it stays apart.
    assert index.split(moved.own, "review-1")
    assert index.person(first.own) != index.person(moved.own)
    assert index.kept_apart(first.own, moved.own)


def test_a_record_matching_two_people_who_share_only_a_name_does_not_join_them() -> None:
    """One record has her birth date, another her address, and they share only her name:
    below what a reviewer is asked about. A full record matches each surely, but halves
    that agree on a name alone (J Smith for John and for Jane) are not made one."""
    index = IdentityIndex()
    dated = index.resolve(PersonRecord("Sibbilla", "Hussain", date(2008, 4, 4), None))
    housed = index.resolve(PersonRecord("Sibbilla", "Hussain", None, "B20 1XY"))
    assert housed.band is Band.NEW
    full = index.resolve(PersonRecord("Sibbilla", "Hussain", date(2008, 4, 4), "B20 1XY"))
    assert full.band is Band.LINKED and full.joined == ()
    assert index.person(dated.own) != index.person(housed.own)


def test_a_father_and_son_of_one_name_at_one_address_are_not_linked_by_the_linker() -> None:
    """Everything agrees but the birth date, decades apart: a person decides (at a learnt
    model's thresholds, where the weights alone would link them)."""
    index = IdentityIndex(LEARNT)
    father = index.resolve(PersonRecord("Mohammed", "Iqbal", date(1968, 2, 9), "B11 4AA"))
    son = index.resolve(PersonRecord("Mohammed", "Iqbal", date(1994, 7, 30), "B11 4AA"))
    assert son.person_id != father.person_id
    assert son.band is Band.REVIEW, son  # and the pair is on the queue to decide
    assert {f.level for f in son.evidence.fields if f.field == "date_of_birth"} == {"different"}  # type: ignore[union-attr]


def test_what_a_household_shares_is_not_enough_for_the_linker_to_link() -> None:
    """No given name and no birth date: a family name and a postcode are the household's,
    so a record with only those is not joined to whichever member it meets first."""
    index = IdentityIndex(LEARNT)
    mother = index.resolve(PersonRecord("Amina", "Khan", date(1990, 3, 14), "B11 4AA"))
    nameless = index.resolve(PersonRecord("", "Khan", None, "B11 4AA"))
    assert nameless.person_id != mother.person_id and nameless.band is not Band.LINKED
    # With her given name as well, the same evidence is hers.
    named = index.resolve(PersonRecord("Amina", "Khan", None, "B11 4AA"))
    assert named.band is Band.LINKED and named.person_id == mother.person_id


def test_a_record_carrying_two_peoples_identifiers_joins_them() -> None:
    index = IdentityIndex()
    school = index.resolve(PersonRecord("Yusuf", "Khan", None, None, frozenset({"upn:Z1"})))
    health = index.resolve(
        PersonRecord("Joseph", "Khan", None, None, frozenset({"nhs:9434765919"}))
    )
    both = index.resolve(
        PersonRecord("Yusuf", "Khan", None, None, frozenset({"upn:Z1", "nhs:9434765919"}))
    )
    assert both.joined == ((health.person_id, "identifier"),)
    index.join(both)
    assert index.person(health.person_id) == index.person(school.person_id) == both.person_id
