"""Field-by-field comparison: variants, nicknames, swapped dates, conflicting identifiers."""

from datetime import date

from ehx.linker import PersonRecord, compare
from ehx.linker.names import name_key, postcode_district, postcode_key


def levels(a: PersonRecord, b: PersonRecord) -> dict[str, str]:
    return {f.field: f.level for f in compare(a, b).fields}


AMINA = PersonRecord("Amina", "Khan", date(1990, 3, 14), "B11 4AA")


def test_transliterations_and_nicknames_are_one_name() -> None:
    assert name_key("Muhammad") == name_key("Mohammed") == name_key("MOHAMED")
    assert name_key("Danny") == name_key("Daniel")
    assert (
        levels(AMINA, PersonRecord("Aminah", "Khan", date(1990, 3, 14), "B11 4AA"))["given_name"]
        == "variant"
    )


def test_day_and_month_swapped_is_recognised_and_still_strong() -> None:
    swapped = PersonRecord("Amina", "Khan", date(1990, 14 - 11, 14), "B11 4AA")  # 14/03 -> 03/14
    swapped = PersonRecord("Amina", "Khan", date(1990, 3, 14).replace(month=3), "B11 4AA")
    us_style = PersonRecord("Amina", "Khan", date(1990, 12, 3), "B11 4AA")
    assert (
        levels(PersonRecord("Amina", "Khan", date(1990, 3, 12), None), us_style)["date_of_birth"]
        == "swapped"
    )
    assert compare(AMINA, swapped).weight > 30


def test_a_sibling_scores_far_below_the_same_person() -> None:
    sibling = PersonRecord("Maryam", "Khan", date(2019, 9, 23), "B11 4AA")
    same = PersonRecord("Amina", "Khan", date(1990, 3, 14), "b114aa")
    assert compare(AMINA, same).weight > 25 > 10 > compare(AMINA, sibling).weight


def test_two_different_nhs_numbers_lower_the_weight_and_say_so() -> None:
    a = PersonRecord("Amina", "Khan", date(1990, 3, 14), "B11 4AA", frozenset({"nhs:4010232137"}))
    b = PersonRecord("Amina", "Khan", date(1990, 3, 14), "B11 4AA", frozenset({"nhs:9434765919"}))
    without = PersonRecord("Amina", "Khan", date(1990, 3, 14), "B11 4AA")
    conflict = compare(a, b)
    # About ten bits less than the same pair without identifiers: not minus infinity, so
    # strong agreement elsewhere still reaches a reviewer (IdentityIndex never links it).
    assert -11 < conflict.weight - compare(a, without).weight < -9
    assert ("identifiers", "conflict") in {(f.field, f.level) for f in conflict.fields}


def test_evidence_names_each_field_and_its_level() -> None:
    other = PersonRecord("Amina", "Khan", None, "B11 9ZZ")
    evidence = compare(AMINA, other)
    assert [f.level for f in evidence.fields] == ["exact", "exact", "missing", "district"]
    assert evidence.as_dict()["weight"] == round(sum(f.weight for f in evidence.fields), 2)


def test_postcodes_normalise_and_know_their_district() -> None:
    assert postcode_key(" b11  4aa ") == "B114AA"
    assert postcode_district("B11 4AA") == "B11"
    assert postcode_district("B1 1AA") == "B1"


def test_one_typo_means_one_digit_whatever_part_it_is_in() -> None:
    assert (
        levels(AMINA, PersonRecord("Amina", "Khan", date(1980, 3, 14), None))["date_of_birth"]
        == "one_typo"
    )  # the third digit of the year
    assert (
        levels(AMINA, PersonRecord("Amina", "Khan", date(1990, 3, 15), None))["date_of_birth"]
        == "one_typo"
    )
    # Two parts differ: at least two digits, whatever they are.
    assert (
        levels(AMINA, PersonRecord("Amina", "Khan", date(1991, 3, 15), None))["date_of_birth"]
        == "different"
    )
    assert (
        levels(AMINA, PersonRecord("Amina", "Khan", date(1990, 4, 15), None))["date_of_birth"]
        == "same_year"
    )


def test_identifiers_conflict_only_within_a_kind_both_carry() -> None:
    def record(*identifiers: str) -> PersonRecord:
        return PersonRecord("Amina", "Khan", date(1990, 3, 14), "B11 4AA", frozenset(identifiers))

    nhs = record("nhs:4010232137", "ref:police:WMP-1")
    assert "identifiers" not in levels(nhs, record("upn:A123", "ref:police:WMP-2"))
    assert "identifiers" not in levels(nhs, record("nhs:4010232137", "nhs:9434765919"))
    assert levels(nhs, record("nhs:9434765919", "upn:A123"))["identifiers"] == "conflict"
    assert "identifiers" not in levels(nhs, record())


def test_a_missing_name_says_nothing_either_way() -> None:
    born = date(2012, 5, 1)
    named = PersonRecord("Ayesha", "Begum", born, "B11 4AA")
    unnamed = PersonRecord("", "Begum", born, "B11 4AA")
    neither = PersonRecord("", "", born, "B11 4AA")
    assert levels(named, unnamed)["given_name"] == "missing"  # not "different"
    assert levels(neither, neither)["given_name"] == "missing"  # not "exact"
    assert levels(neither, neither)["family_name"] == "missing"
    # So two records sharing only a birth date and a postcode are not a confident match.
    assert compare(neither, neither).weight < compare(named, named).weight - 10
    assert (
        compare(named, unnamed).weight
        > compare(named, PersonRecord("Zofia", "Begum", born, "B11 4AA")).weight
    )


def test_nicknames_and_short_forms_are_one_name() -> None:
    # From the open English nicknames list, not only the local groups.
    from ehx.linker.names import same_variant

    for short, full in [("Jo", "Joanne"), ("Bill", "William"), ("Peggy", "Margaret")]:
        assert same_variant(short, full) and same_variant(full, short), (short, full)
    assert same_variant("Bill", "Will")  # both William's
    assert not same_variant("John", "Jane") and not same_variant("Amina", "Maryam")
    born = date(1984, 2, 9)
    joanne = PersonRecord("Joanne", "Smith", born, "B12 9QH")
    assert levels(joanne, PersonRecord("Jo", "Smith", born, "B12 9QH"))["given_name"] == "variant"


def test_given_and_family_names_the_other_way_round_are_a_swap_not_two_mismatches() -> None:
    swapped = PersonRecord("Khan", "Amina", date(1990, 3, 14), "B11 4AA")
    assert levels(AMINA, swapped) == {
        "given_name": "swapped",
        "family_name": "swapped",
        "date_of_birth": "exact",
        "postcode": "exact",
    }
    other = PersonRecord("Khan", "Zofia", date(1990, 3, 14), "B11 4AA")
    assert levels(AMINA, other)["given_name"] == "different"  # not everyone named Khan
    # Less than the names the right way round, far more than two mismatches.
    assert compare(AMINA, AMINA).weight > compare(AMINA, swapped).weight
    assert compare(AMINA, swapped).weight > compare(AMINA, other).weight + 15


def test_names_a_few_letters_out_are_similar_not_different() -> None:
    """Jaro-Winkler levels: a typo in a short name (Iqbal, Ikbal) is not a stranger's."""
    found = levels(
        PersonRecord("Amina", "Iqbal", date(1990, 3, 14), None),
        PersonRecord("Amina", "Ikbal", date(1990, 3, 14), None),
    )
    assert found["family_name"] == "similar"
    assert levels(AMINA, PersonRecord("Amina", "Kahm", None, None))["family_name"] == "different"
    assert levels(AMINA, PersonRecord("Amnia", "Khan", None, None))["given_name"] == "close"


def test_a_mistyped_nickname_is_close_not_a_different_name() -> None:
    """Wlilie (Willie, a letter turned) for Wilbur: a clerk's typo on a short form. Scored
    "different", the linker would never link it (twins' rule); two given names with no
    form in common, as twins have, still are."""
    born = date(2011, 6, 2)
    wilbur = PersonRecord("Wilbur", "Walsh", born, "B12 9QH")
    assert levels(wilbur, PersonRecord("Wlilie", "Walsh", born, "B12 9QH"))["given_name"] == "close"
    assert levels(wilbur, PersonRecord("Maryam", "Walsh", born, "B12 9QH"))["given_name"] == (
        "different"
    )


def test_two_letters_the_other_way_round_are_close_but_a_twin_s_name_is_not() -> None:
    """Jaro-Winkler puts Loe far from Leo (0.78), though a transposition is a typist's
    commonest slip; Ava and Eva, one letter apart, stay different names (twins)."""
    born = date(2015, 6, 1)
    leo = PersonRecord("Leo", "Khan", born, "B11 4AA")
    assert levels(leo, PersonRecord("Loe", "Khan", born, "B11 4AA"))["given_name"] == "close"
    ava = PersonRecord("Ava", "Khan", born, "B11 4AA")
    assert levels(ava, PersonRecord("Eva", "Khan", born, "B11 4AA"))["given_name"] == "different"
    # A transposed short form is a close form of the full name (Ed, Eddy).
    assert (
        levels(PersonRecord("dE", "Patel", born, None), PersonRecord("Eddy", "Patel", born, None))[
            "given_name"
        ]
        == "close"
    )


def test_a_swap_is_seen_when_the_given_name_is_a_nickname_of_the_other() -> None:
    """Akhtar Fredericka for Freddy Akhtar: the crossed names are compared as given
    names too, so the nickname counts whichever record came first, and the pair is a
    swap, not two mismatches."""
    born = date(2015, 6, 1)
    swapped = PersonRecord("Akhtar", "Fredericka", born, None)
    freddy = PersonRecord("Freddy", "Akhtar", born, "B11 4AA")
    for a, b in ((swapped, freddy), (freddy, swapped)):
        found = levels(a, b)
        assert (found["given_name"], found["family_name"]) == ("swapped", "swapped")
