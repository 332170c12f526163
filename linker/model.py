"""The match model: m and u for each field's levels, and how common each name is.

Fellegi-Sunter: a level's m is how often true matches compare at that level, its u how
often non-matches do, and its weight log2(m/u) bits; a pair's weight is the sum. A
"missing" level weighs nothing, whatever the model (a blank says nothing either way).

Term frequencies: two records that share a name share a common one more often by chance
(Khan, Begum, Smith) than a rare one. Where the model knows how common a name is, an
exact match on it weighs log2(m / share of records with that name), floored so a name
seen once is not taken for proof, instead of one weight for every exact name.

``DEFAULT`` holds the values set by hand from the synthetic city and the literature;
``ehx links train`` learns a model from the agencies' own records (``training``), and
the linker uses the latest one stored.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

#: The fields compared, and their levels from most to least alike ("missing" aside).
LEVELS: dict[str, tuple[str, ...]] = {
    "given_name": ("exact", "variant", "swapped", "close", "similar", "different"),
    "family_name": ("exact", "close", "similar", "different"),
    "date_of_birth": ("exact", "swapped", "one_typo", "same_year", "different"),
    "postcode": ("exact", "district", "different"),
}
#: A name shared by fewer records than this share is weighed as if this common.
MIN_FREQUENCY = 1e-5


@dataclass(frozen=True)
class LinkPolicy:
    """Thresholds in bits of match weight (log2 of the likelihood ratio), for one model.

    At or above ``upper`` the linker links; from ``lower`` a person reviews the pair.
    Each model carries the thresholds set for its weights (``DEFAULT``'s and a trained
    model's differ); lower thresholds buy recall with precision.
    """

    upper: float = 22.0
    lower: float = 16.0
    #: Prior odds of two blocked records being one person, for the confidence figure.
    prior_bits: float = -14.0
    #: The thresholds hold up to this many people; beyond it both rise by log2 of how
    #: many times more there are. The more people on file, the more share a name and a
    #: birthday by chance, so the same agreement is weaker evidence (the prior odds of a
    #: candidate being the one fall as the candidates grow). None: fixed thresholds.
    reference_people: int | None = None

    def as_dict(self) -> dict[str, float | int | None]:
        return {
            "upper": self.upper,
            "lower": self.lower,
            "prior_bits": self.prior_bits,
            "reference_people": self.reference_people,
        }

    def rise(self, people: int) -> float:
        """How many bits both thresholds rise with this many people on file."""
        if not self.reference_people or people <= self.reference_people:
            return 0.0
        return math.log2(people / self.reference_people)


#: The hand-set model's thresholds, set on the synthetic city (``ehx links evaluate``):
#: at 22 bits person linking is above 0.99 precision and 0.95 recall there.
HAND_SET = LinkPolicy()


@dataclass(frozen=True)
class LinkModel:
    """m and u per field and level, with the share of records bearing each name."""

    m: Mapping[str, Mapping[str, float]]
    u: Mapping[str, Mapping[str, float]]
    #: Folded name -> its share of records, for given and family names; empty: no
    #: term frequencies, one weight for every exact name.
    frequencies: Mapping[str, Mapping[str, float]] = field(default_factory=dict)
    #: The share given to a name the table does not list (too rare to list, or new).
    unlisted: Mapping[str, float] = field(default_factory=dict)
    #: Where it came from, in words: "set by hand", or what it was trained on.
    source: str = "set by hand"
    #: The thresholds set for this model's weights.
    policy: LinkPolicy = HAND_SET

    #: Each field's level -> weight in bits ("missing" 0), worked out once: the linker
    #: looks them up for every candidate it scores.
    weights: dict[str, dict[str, float]] = field(init=False, repr=False, compare=False)
    #: Each name field's exact weight for each listed name, and for any other.
    _exact: dict[str, tuple[dict[str, float], float]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        weights = {
            f: {"missing": 0.0}
            | {level: math.log2(self.m[f][level] / self.u[f][level]) for level in levels}
            for f, levels in LEVELS.items()
        }
        exact = {}
        for name_field in ("given_name", "family_name"):
            shares = self.frequencies.get(name_field) or {}
            m = self.m[name_field]["exact"]
            unlisted = max(self.unlisted.get(name_field, MIN_FREQUENCY), MIN_FREQUENCY)
            exact[name_field] = (
                {name: math.log2(m / max(share, MIN_FREQUENCY)) for name, share in shares.items()},
                math.log2(m / unlisted) if shares else weights[name_field]["exact"],
            )
        object.__setattr__(self, "weights", weights)
        object.__setattr__(self, "_exact", exact)

    def weight(self, field_name: str, level: str) -> float:
        return self.weights[field_name][level]

    def exact_name(self, field_name: str, folded: str) -> float:
        """The weight of two records agreeing exactly on this name: log2(m / the share of
        records bearing it) where the model knows how common names are."""
        listed, otherwise = self._exact[field_name]
        return listed.get(folded, otherwise)

    def as_dict(self) -> dict[str, Any]:
        return {
            "m": {f: dict(v) for f, v in self.m.items()},
            "u": {f: dict(v) for f, v in self.u.items()},
            "frequencies": {f: dict(v) for f, v in self.frequencies.items()},
            "unlisted": dict(self.unlisted),
            "source": self.source,
            "policy": self.policy.as_dict(),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> LinkModel:
        return cls(
            m=data["m"],
            u=data["u"],
            frequencies=data.get("frequencies") or {},
            unlisted=data.get("unlisted") or {},
            source=data.get("source", "stored"),
            policy=LinkPolicy(**data["policy"]) if data.get("policy") else HAND_SET,
        )

    def table(self) -> list[tuple[str, str, float, float, float]]:
        """(field, level, m, u, weight in bits) for every level, to show a person."""
        return [
            (f, level, self.m[f][level], self.u[f][level], self.weight(f, level))
            for f, levels in LEVELS.items()
            for level in levels
        ]


#: Set by hand from the synthetic city and the literature. u for an exact date of birth:
#: about one person in 25,000 shares it. Given and family names the other way round
#: (Khan Amina for Amina Khan): one true match in a hundred, about one non-match in
#: 25,000; the pair's weight is put on the given name, so the family name's is nothing.
DEFAULT = LinkModel(
    m={
        "given_name": {
            "exact": 0.86,
            "variant": 0.06,
            "swapped": 0.01,
            "close": 0.05,
            "similar": 0.01,
            "different": 0.03,
        },
        "family_name": {"exact": 0.90, "close": 0.06, "similar": 0.01, "different": 0.04},
        "date_of_birth": {
            "exact": 0.90,
            "swapped": 0.02,
            "one_typo": 0.04,
            "same_year": 0.02,
            "different": 0.02,
        },
        "postcode": {"exact": 0.75, "district": 0.12, "different": 0.13},
    },
    u={
        "given_name": {
            "exact": 0.01,
            "variant": 0.002,
            "swapped": 0.00004,
            "close": 0.006,
            "similar": 0.01,
            "different": 0.982,
        },
        "family_name": {"exact": 0.004, "close": 0.004, "similar": 0.01, "different": 0.992},
        "date_of_birth": {
            "exact": 0.00004,
            "swapped": 0.00004,
            "one_typo": 0.0005,
            "same_year": 0.012,
            "different": 0.9875,
        },
        "postcode": {"exact": 0.002, "district": 0.05, "different": 0.948},
    },
)
