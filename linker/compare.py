"""Fellegi-Sunter comparison of two person records: a match weight, field by field.

Each field is compared at a few levels (exact, variant, close, similar, different,
missing). A level carries m (how often true matches look like this) and u (how often
non-matches do); its weight is log2(m/u), and the record's weight is the sum. This is
the model Splink uses; the m and u values are the model's (``model``: set by hand, or
learnt from the agencies' records), and the thresholds sit in ``LinkPolicy``. Every
comparison keeps its evidence so a reviewer can see why, field by field.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date

from rapidfuzz.distance import JaroWinkler

from ehx.linker.model import DEFAULT, LinkModel
from ehx.linker.names import (
    dob_one_typo,
    dob_swapped,
    fold,
    name_key,
    near_variant,
    postcode_district,
    postcode_key,
    same_variant,
    transposed,
)


@dataclass(frozen=True, slots=True)
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


#: A different identifier of the same kind (two NHS numbers): one in a thousand true
#: matches carries a mistyped one that still passes its check, nearly every non-match
#: does. About -10 bits: strong agreement elsewhere still reaches the review queue, with
#: the conflict shown, where it once ruled the pair out (-60); the linker never links a
#: conflicting pair on its own (``IdentityIndex.resolve``). Not learnt: the records a
#: model learns from rarely carry two identifiers of one kind.
IDENTIFIER_CONFLICT = math.log2(0.001 / 0.999)
#: Jaro-Winkler similarity of two names at the "close" level (a letter or two wrong),
#: and at "similar" (more wrong, or a short name mistyped).
CLOSE, SIMILAR = 0.9, 0.8


def _given(a: str, b: str, near: bool = True) -> str:
    fa, fb = fold(a), fold(b)
    if fa == fb:
        return "exact"
    if same_variant(a, b) or name_key(a) == name_key(b):
        return "variant"
    similarity = JaroWinkler.similarity(fa, fb)
    # A nickname or full form mistyped (Wlilie for Wilbur) is as close as a typo.
    if similarity >= CLOSE or transposed(fa, fb) or (near and near_variant(a, b, CLOSE)):
        return "close"
    return "similar" if similarity >= SIMILAR else "different"


def _family(a: str, b: str) -> str:
    fa, fb = fold(a), fold(b)
    if fa == fb:
        return "exact"
    # Double-barrelled or reordered surnames: one contained in the other.
    similarity = JaroWinkler.similarity(fa, fb)
    if similarity >= CLOSE or (min(len(fa), len(fb)) >= 3 and (fa in fb or fb in fa)):
        return "close"
    return "similar" if similarity >= SIMILAR else "different"


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


def _across(a: str, b: str) -> bool:
    """Whether a name in one record's given slot and one in the other's family slot are
    alike, as given names (a nickname counts: Freddy for Fredericka) or as family names.
    Not a mistyped nickname: asked of most pairs of unlike given names, that search of
    every form costs a fifth of linking's time, for a swap with two slips besides."""
    return _given(a, b, near=False) not in _UNLIKE or _family(a, b) not in _UNLIKE


def _swapped(a: PersonRecord, b: PersonRecord) -> bool:
    """Each record's given name is the other's family name (alike, as ``_across``
    says), for records whose given names are unlike."""
    names = (a.given_name, a.family_name, b.given_name, b.family_name)
    if not all(fold(n) for n in names) or fold(a.given_name) == fold(a.family_name):
        return False
    return _across(a.given_name, b.family_name) and _across(b.given_name, a.family_name)


_UNLIKE = frozenset({"similar", "different"})


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


def levels(a: PersonRecord, b: PersonRecord, model: LinkModel = DEFAULT) -> list[Level]:
    """Each field's level and weight under ``model``: what ``compare`` says, as tuples.

    The linker scores every candidate in a block with this and builds the evidence of
    the best one only (evidence objects cost more to make than the comparison itself).
    """
    weights = model.weights
    found: list[Level] = []
    # A name one record lacks says nothing either way (as a missing birth date does):
    # not "different" when one is blank, and never "exact" because both are.
    given, family = fold(a.given_name), fold(a.family_name)
    given_level = _given(a.given_name, b.given_name) if given and fold(b.given_name) else None
    if given_level in _UNLIKE and _swapped(a, b):
        found += [
            ("given_name", "swapped", weights["given_name"]["swapped"]),
            ("family_name", "swapped", 0.0),  # the pair's weight is on the given name
        ]
    else:
        family_level = (
            _family(a.family_name, b.family_name) if family and fold(b.family_name) else None
        )
        for name_field, folded, level in (
            ("given_name", given, given_level),
            ("family_name", family, family_level),
        ):
            if level is None:
                found.append((name_field, "missing", 0.0))
            elif level == "exact":
                found.append((name_field, level, model.exact_name(name_field, folded)))
            else:
                found.append((name_field, level, weights[name_field][level]))
    dob = _dob(a.date_of_birth, b.date_of_birth) if a.date_of_birth and b.date_of_birth else None
    found.append(("date_of_birth", dob or "missing", weights["date_of_birth"][dob or "missing"]))
    postcode = _postcode(a.postcode, b.postcode) if a.postcode and b.postcode else "missing"
    found.append(("postcode", postcode, weights["postcode"][postcode]))
    if identifier_conflict(a.identifiers, b.identifiers):
        found.append(("identifiers", "conflict", IDENTIFIER_CONFLICT))
    return found


def evidence(found: list[Level]) -> MatchEvidence:
    """The match weight of ``levels`` with the evidence for it, field by field."""
    fields = tuple(FieldEvidence(*level) for level in found)
    return MatchEvidence(sum(f.weight for f in fields), fields)


def compare(a: PersonRecord, b: PersonRecord, model: LinkModel = DEFAULT) -> MatchEvidence:
    """The Fellegi-Sunter match weight of two records, with the evidence for it."""
    return evidence(levels(a, b, model))
