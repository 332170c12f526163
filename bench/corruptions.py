"""A harsh labelled sample: person records corrupted as real agency records are.

The synthetic city's corruptions are mild (a variant spelling, a typo now and then), so
its figures flatter the linker. This generator makes records the way public
record-linkage benchmarks do (FEBRL's generator is the model): an original record per
person and up to four copies, each copy corrupted independently, at the rates below.
Households share a family name and a postcode, and some have twins (one birthday, one
address, different given names): the look-alikes that must stay apart.

The output is the labelled sample ``ehx links evaluate --records`` reads
(``ehx.linker.evaluate.LabelledRecord``), so the same scoring runs on a council's own
sample and on this one. Seeded: the same seed makes the same records.
"""

from __future__ import annotations

import contextlib
import csv
import io
import itertools
import random
import string
from collections.abc import Iterable
from datetime import date, timedelta
from importlib import resources

from nicknames import NickNamer

from bench.city import FAMILY_NAMES, GIVEN_ADULT, GIVEN_CHILD
from ehx.linker.compare import PersonRecord
from ehx.linker.evaluate import COLUMNS, LabelledRecord

#: How many copies a person has besides the original (FEBRL-style, mean about 1.1).
COPIES = {0: 0.40, 1: 0.30, 2: 0.15, 3: 0.10, 4: 0.05}
#: Chance of each corruption, per copy. Named for the misses the linker was tried on.
RATES = {
    "given_nickname": 0.12,  # Bill for William, Peggy for Margaret
    "given_typo": 0.10,  # one insertion, deletion, substitution or transposition
    "given_missing": 0.05,
    "family_typo": 0.10,
    "family_missing": 0.03,
    "family_changed": 0.02,  # a new family name, as on marriage
    "names_swapped": 0.04,  # given and family the other way round
    "dob_missing": 0.05,
    "dob_day_month_swapped": 0.03,
    "dob_one_digit": 0.06,
    "dob_year_only": 0.02,  # the year right, day and month wrong
    "moved_house": 0.15,
    "postcode_typo": 0.05,
    "postcode_missing": 0.05,
}
#: Of households, the share with twins (one birthday, different given names).
TWINS = 0.02

_SYLLABLES = (
    *("Ash", "Brad", "Card", "Dun", "Ell", "Fair", "Gar", "Hol", "Ing", "Kirk", "Lang", "Mar"),
    *("Nor", "Ock", "Pen", "Rad", "Stan", "Thorn", "Wal", "York", "Bur", "Cal", "Dal", "Har"),
)
_ENDINGS = ["ley", "ton", "ford", "wood", "field", "by", "well", "more", "stead", "ham", "wick"]


def harsh_sample(people: int = 20_000, seed: int = 2026) -> list[LabelledRecord]:
    """Records of ``people`` people in households, shuffled, each with its true person."""
    rng = random.Random(seed)
    given_pool = _given_names()
    family_pool = _family_names(rng)
    # Zipf-like, flattened: the commonest (Khan) about 1.5% of people, as in Birmingham.
    weights = list(itertools.accumulate(1 / (rank + 10) for rank in range(len(family_pool))))
    nicknames = NickNamer()
    records: list[LabelledRecord] = []
    made = 0
    while made < people:
        family = rng.choices(family_pool, cum_weights=weights)[0]
        postcode = _postcode(rng)
        size = min(people - made, rng.choice((1, 2, 3, 4, 5)))
        twins = size >= 2 and rng.random() < TWINS
        born = [_birthday(rng) for _ in range(size)]
        if twins:
            born[1] = born[0]
        givens = rng.sample(given_pool, size)
        for n in range(size):
            made += 1
            truth = f"t{made:07d}"
            original = PersonRecord(givens[n], family, born[n], postcode)
            copies = rng.choices(list(COPIES), list(COPIES.values()))[0]
            for copy in range(copies + 1):
                record = original if copy == 0 else _corrupt(rng, original, nicknames)
                records.append(LabelledRecord(f"{truth}-{copy}", record, truth))
    rng.shuffle(records)
    return records


def as_csv(sample: Iterable[LabelledRecord]) -> str:
    """The sample in the file format ``ehx links evaluate --records`` reads."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for item in sample:
        r = item.record
        born = r.date_of_birth.isoformat() if r.date_of_birth else ""
        writer.writerow(
            [item.record_id, r.given_name, r.family_name, born, r.postcode or "", item.cluster]
        )
    return out.getvalue()


def _corrupt(rng: random.Random, record: PersonRecord, nicknames: NickNamer) -> PersonRecord:
    def happens(what: str) -> bool:
        return rng.random() < RATES[what]

    given, family = record.given_name, record.family_name
    born, postcode = record.date_of_birth, record.postcode
    if happens("given_nickname"):
        short = sorted(nicknames.nicknames_of(given.lower()))
        given = rng.choice(short).capitalize() if short else given
    if happens("given_typo"):
        given = _typo(rng, given)
    if happens("family_changed"):
        family = rng.choice(FAMILY_NAMES)
    if happens("family_typo"):
        family = _typo(rng, family)
    if happens("names_swapped"):
        given, family = family, given
    if happens("given_missing"):
        given = ""
    if happens("family_missing"):
        family = ""
    if born is not None:
        born = _corrupt_birthday(rng, born, happens)
    if happens("moved_house"):
        postcode = _postcode(rng)
    if postcode and happens("postcode_typo"):
        postcode = _typo(rng, postcode)
    if happens("postcode_missing"):
        postcode = None
    return PersonRecord(given, family, born, postcode)


def _corrupt_birthday(rng: random.Random, born: date, happens: object) -> date | None:
    assert callable(happens)
    if happens("dob_missing"):
        return None
    if happens("dob_day_month_swapped") and born.day <= 12 and born.day != born.month:
        born = born.replace(month=born.day, day=born.month)
    if happens("dob_one_digit"):
        text = born.isoformat()
        at = rng.choice([i for i, c in enumerate(text) if c.isdigit()])
        with contextlib.suppress(ValueError):  # not a date: no clerk's system takes it
            born = date.fromisoformat(text[:at] + rng.choice(string.digits) + text[at + 1 :])
    if happens("dob_year_only"):
        born = date(born.year, rng.randrange(1, 13), rng.randrange(1, 29))
    return born


def _typo(rng: random.Random, text: str) -> str:
    if len(text) < 2:
        return text
    at = rng.randrange(len(text))
    kind = rng.randrange(4)
    letter = rng.choice(string.ascii_lowercase)
    if kind == 0:  # inserted
        return text[:at] + letter + text[at:]
    if kind == 1:  # deleted
        return text[:at] + text[at + 1 :]
    if kind == 2:  # substituted
        return text[:at] + letter + text[at + 1 :]
    at = min(at, len(text) - 2)  # two neighbours transposed
    return text[:at] + text[at + 1] + text[at] + text[at + 2 :]


def _given_names() -> list[str]:
    """The city's names and the English names the nickname list gives short forms of
    (the list's own data file, as its package ships it), each once."""
    names = dict.fromkeys([*GIVEN_ADULT, *GIVEN_CHILD])
    listed = (resources.files("nicknames") / "names.csv").read_text().splitlines()[1:]
    for line in listed:
        names.setdefault(line.split(",")[0].capitalize())
    return list(names)


def _family_names(rng: random.Random) -> list[str]:
    """The city's common names first, then a long tail of rarer made-up ones."""
    tail = {a + b.lower() for a in _SYLLABLES for b in _SYLLABLES if a != b}
    tail |= {a + e for a in _SYLLABLES for e in _ENDINGS}
    tail |= {a + b.lower() + e for a in _SYLLABLES for b in _SYLLABLES for e in _ENDINGS if a != b}
    extra = sorted(tail)
    rng.shuffle(extra)
    return [*FAMILY_NAMES, *extra]


def _postcode(rng: random.Random) -> str:
    letters = "ABDEFGHJLNPQRSTUWXYZ"
    inward = f"{rng.randrange(1, 10)}{rng.choice(letters)}{rng.choice(letters)}"
    return f"B{rng.randrange(1, 99)} {inward}"


def _birthday(rng: random.Random) -> date:
    return date(1940, 1, 1) + timedelta(days=rng.randrange(31_000))
