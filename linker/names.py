"""Normalising names, postcodes and dates of birth for matching, with common variants.

Agencies spell names their own way: transliterations (Mohammed, Muhammad, Mohamed),
nicknames (Danny for Daniel, Bill for William), accents, hyphens, case. Matching
compares normalised forms; the variant groups below (local knowledge: transliterations
above all) and an open list of English nicknames say which spellings are one name.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date
from functools import lru_cache

import jellyfish
from nicknames import NickNamer
from rapidfuzz.distance import JaroWinkler

#: Spellings that are one name. Extend with local knowledge: each line is a group.
VARIANT_GROUPS: tuple[tuple[str, ...], ...] = (
    ("mohammed", "muhammad", "mohammad", "mohamed", "muhammed", "mohamad", "mahomed", "mo"),
    ("ahmed", "ahmad", "ahmet"),
    ("yusuf", "yousef", "yusef", "youssef", "joseph", "joe"),
    ("fatima", "fatimah", "fatma"),
    ("aisha", "ayesha", "aysha", "aishah"),
    ("amina", "aminah", "ameena"),
    ("maryam", "mariam", "miriam", "mary"),
    ("ibrahim", "ebrahim", "abraham"),
    ("imran", "emran"),
    ("hussain", "hussein", "husain", "hosein"),
    ("abdul", "abdel", "abdool"),
    ("daniel", "danny", "dan", "danielle"),
    ("william", "will", "bill", "billy", "liam"),
    ("robert", "rob", "bob", "bobby", "robbie"),
    ("michael", "mike", "mikey", "mick"),
    ("elizabeth", "liz", "beth", "lizzie", "eliza", "betty"),
    ("katherine", "catherine", "kathryn", "kate", "katie", "cathy"),
    ("christopher", "chris", "kit"),
    ("corey", "cory", "corie"),
    ("chloe", "chloé"),
    ("jonathan", "jon", "john", "jonny", "johnny"),
    ("thomas", "tom", "tommy"),
    ("james", "jim", "jimmy", "jamie"),
    ("samuel", "sam", "sammy"),
    ("rebecca", "becky", "becca"),
    ("zara", "zahra", "zahraa"),
)


_NOT_WORD = re.compile(r"[^a-z0-9]+")
_SPACE = re.compile(r"\s+")


# Cached: the linker compares each new mention with every candidate in its block, so
# the same few thousand names and postcodes are folded over and over (a fifth of the
# linker's time in the pipeline profile before this).
@lru_cache(maxsize=65_536)
def fold(text: str) -> str:
    """Lower case, accents removed, only letters, digits and single spaces kept."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    plain = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return _NOT_WORD.sub(" ", plain).strip()


_GROUP_OF: dict[str, int] = {
    fold(name): index for index, group in enumerate(VARIANT_GROUPS) for name in group
}


@lru_cache(maxsize=65_536)
def _variant_group(name: str) -> int | None:
    """The variant group of a name's first word (folded), if it is a known variant."""
    return _GROUP_OF.get(fold(name).split(" ")[0])


@lru_cache(maxsize=65_536)
def sound_code(name: str) -> str:
    """A family name's sound-alike code (Metaphone of its folded form): Khan and Kahn
    are one; "" for no name. What blocking and training group family names by."""
    folded = fold(name)
    return jellyfish.metaphone(folded) if folded else ""


@lru_cache(maxsize=65_536)
def name_key(name: str) -> str:
    """A name's normal form: folded, and for a known variant its group's first spelling."""
    group = _variant_group(name)
    return VARIANT_GROUPS[group][0] if group is not None else fold(name)


def same_variant(a: str, b: str) -> bool:
    """True when two given names are spellings or forms of one name: Mohammed and
    Muhammad (the groups above), Bill and William, Jo and Joanne, Bill and Will (the
    English nicknames list below)."""
    ga = _variant_group(a)
    if ga is not None and ga == _variant_group(b):
        return True
    fa, fb = fold(a).split(" ")[0], fold(b).split(" ")[0]
    if not fa or not fb or fa == fb:
        return False
    nicknames_a, canonicals_a, _ = _forms(fa)
    nicknames_b, canonicals_b, _ = _forms(fb)
    return fb in nicknames_a or fa in nicknames_b or not canonicals_a.isdisjoint(canonicals_b)


def near_variant(a: str, b: str, similar: float) -> bool:
    """True when one given name is a form of the other with a letter or two wrong
    (Wlilie for Willie, Wilbur's short form): at least ``similar`` (Jaro-Winkler) to a
    nickname or full form of the other."""
    fa, fb = fold(a).split(" ")[0], fold(b).split(" ")[0]
    if not fa or not fb:
        return False
    for mine, theirs in ((fa, fb), (fb, fa)):
        for form in _forms(mine)[2]:
            if JaroWinkler.similarity(form, theirs, score_cutoff=similar) or transposed(
                form, theirs
            ):
                return True
    return False


def transposed(a: str, b: str) -> bool:
    """Two folded names alike but for two neighbouring letters the other way round (Loe
    for Leo). Jaro-Winkler scores that low in a short name (0.78 here), though it is
    the commonest slip of a typist; twins are not named that way, unlike Ava and Eva."""
    if len(a) != len(b) or a == b:
        return False
    wrong = [i for i, (x, y) in enumerate(zip(a, b, strict=True)) if x != y]
    return (
        len(wrong) == 2
        and wrong[1] == wrong[0] + 1
        and a[wrong[1]] + a[wrong[0]] == b[wrong[0]] + b[wrong[1]]
    )


@lru_cache(maxsize=65_536)
def forms(name: str) -> frozenset[str]:
    """The nicknames and full forms of a name's first word, each as ``name_key`` gives
    it: Bill, Billy, Willie and Wilma for William (the open list is generous)."""
    first = fold(name).split(" ")[0]
    return frozenset(name_key(form) for form in _forms(first)[2]) if first else frozenset()


# Per name, not per pair: a city's pairs of names are too many to cache, its names are
# not, and asking the list afresh for every candidate was a tenth of linking's time.
@lru_cache(maxsize=65_536)
def _forms(first: str) -> tuple[frozenset[str], frozenset[str], frozenset[str]]:
    """A folded first name's nicknames, the names it is a nickname of, and both."""
    names = _nicknames()
    nicknames, canonicals = names.nicknames_of(first), names.canonicals_of(first)
    return frozenset(nicknames), frozenset(canonicals), frozenset(nicknames | canonicals)


@lru_cache(maxsize=1)
def _nicknames() -> NickNamer:
    """English given names and their nicknames and short forms (2,691 pairs), from the
    hand-curated, Apache-2.0 list at github.com/carltonnorthern/nicknames, as its PyPI
    package ships it: maintained there, so the linker keeps no copy of its own."""
    return NickNamer()


@lru_cache(maxsize=65_536)
def postcode_key(postcode: str | None) -> str | None:
    """UK postcode without spaces, upper case: ``b114aa`` and ``B11 4AA`` are one."""
    if not postcode:
        return None
    key = _SPACE.sub("", postcode).upper()
    return key or None


@lru_cache(maxsize=65_536)
def postcode_district(postcode: str | None) -> str | None:
    """The outward code (``B11``): the district, which survives a move down the road."""
    key = postcode_key(postcode)
    if key is None or len(key) < 5:
        return None
    return key[:-3]


def dob_swapped(a: date, b: date) -> bool:
    """True when one date is the other with day and month swapped (US-style entry)."""
    return a.year == b.year and a.day == b.month and a.month == b.day and a != b


def dob_one_typo(a: date, b: date) -> bool:
    """True when the ISO forms differ in exactly one digit."""
    # Two parts that differ differ in two digits at least: most pairs stop here, and
    # the linker asks this of every candidate sharing a block.
    if (a.year != b.year) + (a.month != b.month) + (a.day != b.day) != 1:
        return False
    x, y = a.isoformat(), b.isoformat()
    return sum(1 for p, q in zip(x, y, strict=True) if p != q) == 1
