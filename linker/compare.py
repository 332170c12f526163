"""Fellegi-Sunter comparison of two person records: a match weight, field by field.

Each field is compared at a few levels (exact, variant, close, different, missing). A
level carries m (how often true matches look like this) and u (how often non-matches
do); its weight is log2(m/u), and the record's weight is the sum. This is the model
Splink uses; the m and u values below are set from the synthetic city and the
literature, and the thresholds sit in ``LinkPolicy``. Every comparison keeps its
evidence so a reviewer can see why, field by field.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date

from rapidfuzz.distance import JaroWinkler

from ehx.linker.names import (
    dob_one_typo,
    dob_swapped,
    fold,
    name_key,
    postcode_district,
    postcode_key,
    same_variant,
)


@dataclass(frozen=True)
class PersonRecord:
    """What one mention says about a person, as matching needs it."""

    given_name: str
    family_name: str
    date_of_birth: date | None
    postcode: str | None
    #: Identifiers that name one person: ``nhs:…``, ``upn:…``, ``pnc:…``, ``ref:police:…``.
    identifiers: frozenset[str] = frozenset()


@dataclass(frozen=True)
class FieldEvidence:
    field: str
    level: str
    weight: float


@dataclass(frozen=True)
class MatchEvidence:
    weight: float
    fields: tuple[FieldEvidence, ...]

    def as_dict(self) -> dict[str, object]:
        return {
            "weight": round(self.weight, 2),
            "fields": [
                {"field": f.field, "level": f.level, "weight": round(f.weight, 2)}
                for f in self.fields
            ],
        }


def _w(m: float, u: float) -> float:
    return math.log2(m / u)


# (m, u) per level. u for an exact date of birth: about one person in 25,000 shares it.
GIVEN = {
    "exact": _w(0.86, 0.01),
    "variant": _w(0.06, 0.002),
    "close": _w(0.05, 0.006),
    "different": _w(0.03, 0.982),
}
FAMILY = {
    "exact": _w(0.90, 0.004),
    "close": _w(0.06, 0.004),
    "different": _w(0.04, 0.992),
}
#: Given and family names the other way round (Khan Amina for Amina Khan): one true
#: match in a hundred, about one non-match in 25,000 (each name's chance of the other).
#: The weight is the pair's, put on the given name; the family name's is then 0.
SWAPPED = _w(0.01, 0.00004)
DOB = {
    "exact": _w(0.90, 0.00004),
    "swapped": _w(0.02, 0.00004),
    "one_typo": _w(0.04, 0.0005),
    "same_year": _w(0.02, 0.012),
    "different": _w(0.02, 0.9875),
}
POSTCODE = {
    "exact": _w(0.75, 0.002),
    "district": _w(0.12, 0.05),
    "different": _w(0.13, 0.948),
}
#: A different identifier of the same kind (two NHS numbers): one in a thousand true
#: matches carries a mistyped one that still passes its check, nearly every non-match
#: does. About -10 bits: strong agreement elsewhere still reaches the review queue, with
#: the conflict shown, where it once ruled the pair out (-60); the linker never links a
#: conflicting pair on its own (``IdentityIndex.resolve``).
IDENTIFIER_CONFLICT = _w(0.001, 0.999)


def _given(a: str, b: str) -> str:
    fa, fb = fold(a), fold(b)
    if fa == fb:
        return "exact"
    if same_variant(a, b) or name_key(a) == name_key(b):
        return "variant"
    if JaroWinkler.similarity(fa, fb) >= 0.9:
        return "close"
    return "different"


def _family(a: str, b: str) -> str:
    fa, fb = fold(a), fold(b)
    if fa == fb:
        return "exact"
    # Double-barrelled or reordered surnames: one contained in the other.
    if JaroWinkler.similarity(fa, fb) >= 0.9 or (
        min(len(fa), len(fb)) >= 3 and (fa in fb or fb in fa)
    ):
        return "close"
    return "different"


def _dob(a: date, b: date) -> str:
    if a == b:
        return "exact"
    if dob_swapped(a, b):
        return "swapped"
    if dob_one_typo(a, b):
        return "one_typo"
    if a.year == b.year:
        return "same_year"
    return "different"


def _postcode(a: str, b: str) -> str:
    if postcode_key(a) == postcode_key(b):
        return "exact"
    if postcode_district(a) and postcode_district(a) == postcode_district(b):
        return "district"
    return "different"


def _swapped(a: PersonRecord, b: PersonRecord) -> bool:
    """Each record's given name is the other's family name (close, or one's variant)."""
    names = (a.given_name, a.family_name, b.given_name, b.family_name)
    if not all(fold(n) for n in names) or fold(a.given_name) == fold(a.family_name):
        return False
    return (
        _given(a.given_name, b.family_name) != "different"
        and _family(a.family_name, b.given_name) != "different"
        and _given(a.given_name, b.given_name) == "different"
    )


#: The identifiers that name one person, by their kind's prefix (all four characters).
_ONE_PERSON_KINDS = frozenset({"nhs:", "upn:", "pnc:"})


def identifier_conflict(a: frozenset[str], b: frozenset[str]) -> bool:
    """Both carry an identifier of one kind (NHS number, UPN, PNC id) and they differ."""
    if not a or not b:
        return False
    # Only the kinds both records carry (most pairs share none): then, within a kind,
    # no identifier in common.
    for kind in {i[:4] for i in a} & {i[:4] for i in b} & _ONE_PERSON_KINDS:
        if not {i for i in a if i.startswith(kind)} & {i for i in b if i.startswith(kind)}:
            return True
    return False


#: One field's comparison, before it becomes evidence: (field, level, weight).
Level = tuple[str, str, float]


def levels(a: PersonRecord, b: PersonRecord) -> list[Level]:
    """Each field's level and weight: what ``compare`` says, as plain tuples.

    The linker scores every candidate in a block with this and builds the evidence of
    the best one only (evidence objects cost more to make than the comparison itself).
    """
    found: list[Level] = []
    if _swapped(a, b):
        found += [("given_name", "swapped", SWAPPED), ("family_name", "swapped", 0.0)]
    # A name one record lacks says nothing either way (as a missing birth date does):
    # not "different" when one is blank, and never "exact" because both are.
    for field, mine, theirs, level_of, weights in (
        ("given_name", a.given_name, b.given_name, _given, GIVEN),
        ("family_name", a.family_name, b.family_name, _family, FAMILY),
    ):
        if found and found[0][1] == "swapped":
            break
        if fold(mine) and fold(theirs):
            level = level_of(mine, theirs)
            found.append((field, level, weights[level]))
        else:
            found.append((field, "missing", 0.0))
    if a.date_of_birth and b.date_of_birth:
        dob = _dob(a.date_of_birth, b.date_of_birth)
        found.append(("date_of_birth", dob, DOB[dob]))
    else:
        found.append(("date_of_birth", "missing", 0.0))
    if a.postcode and b.postcode:
        postcode = _postcode(a.postcode, b.postcode)
        found.append(("postcode", postcode, POSTCODE[postcode]))
    else:
        found.append(("postcode", "missing", 0.0))
    if identifier_conflict(a.identifiers, b.identifiers):
        found.append(("identifiers", "conflict", IDENTIFIER_CONFLICT))
    return found


def evidence(found: list[Level]) -> MatchEvidence:
    """The match weight of ``levels`` with the evidence for it, field by field."""
    fields = tuple(FieldEvidence(*level) for level in found)
    return MatchEvidence(sum(f.weight for f in fields), fields)


def compare(a: PersonRecord, b: PersonRecord) -> MatchEvidence:
    """The Fellegi-Sunter match weight of two records, with the evidence for it."""
    return evidence(levels(a, b))
