"""Blocking: which people on file a new record is compared with at all.

Scoring every person for every record is out of the question in a city; blocking files
each record under cheap keys and compares a new record only with the people filed under
the keys it searches. A pair that meets under no key is never compared, so the keys are
made for the ways one person's records differ (``ehx links evaluate`` reports the share
of true pairs that meet: pair completeness, the most recall can be).

Each key is narrow enough that its blocks stay a handful of people at a million: a
birth date alone is shared by thirty people there, a given and family name by hundreds,
and every one of them would be scored for every record. The passes:

- the names (given name's normal form, family name's sound-alike code), either way
  round, with the birth year, or with the day and month (one of the two mistyped);
- the birth date, or its day and month turned, with the given name, the family name's
  code, or the two names' first letters (one or both names mistyped, or swapped);
- the birth year and month, or year and day, with the family name's code and the given
  name's first letter (the given name mistyped, and one of day or month mistyped) or
  with the given name and the family name's first letter (the family name mistyped
  too). Without the letter these blocks grew with the city: a common family name and a
  birth month held a dozen people at a million;
- the postcode with the family name's code, with the birth date, or with a first
  letter of the names (a street's few households).

A record also searches, without being filed there, under its given name's nicknames and
full forms (names with the birth date, year, or day and month: Bill for William with a
digit wrong), and under each name in the other's slot with the birth date (swapped, one
name mistyped): the other record is found under its own keys.

A wide key is filed and searched only where the narrow one cannot serve: a record with no
birth date searches every record of its names, and is filed where records with a birth
date look; a record missing a name likewise for the birth date and a first letter.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from functools import lru_cache

from ehx.linker.compare import PersonRecord
from ehx.linker.names import fold, forms, name_key, postcode_key, sound_code

Key = tuple[str, ...]


@dataclass(frozen=True)
class Keys:
    """Where a record is filed, and where the linker looks for its candidates."""

    filed: frozenset[Key]
    searched: frozenset[Key]

    def meet(self, other: Keys) -> bool:
        """Whether blocking brings the two records together to be compared."""
        return not (self.searched.isdisjoint(other.filed) and other.searched.isdisjoint(self.filed))


class Blocks:
    """The people filed under each key.

    Most keys name one person (93% at 200,000 people, 86% at a million: each record
    has keys of its own), so a block of one is kept as the person's id, not a set: a
    set costs 216 bytes and the garbage collector visits it. Linking the harsh sample
    of 200,000 people peaked at 2.3 GB with a set per key and at 1.4 GB without.
    """

    def __init__(self) -> None:
        self._members: dict[Key, str | set[str]] = {}

    def add(self, key: Key, person: str) -> None:
        found = self._members.get(key)
        if found is None:
            self._members[key] = person
        elif isinstance(found, str):
            if found != person:
                self._members[key] = {found, person}
        else:
            found.add(person)

    def discard(self, key: Key, person: str) -> None:
        found = self._members.get(key)
        if found == person:
            del self._members[key]
        elif isinstance(found, set):
            found.discard(person)
            # Back to one: a link files the record under its own id, then moves it.
            if len(found) == 1:
                self._members[key] = found.pop()

    def members(self, key: Key) -> Collection[str]:
        found = self._members.get(key, ())
        return (found,) if isinstance(found, str) else found


class _Keys:
    def __init__(self) -> None:
        self.filed: set[Key] = set()
        self.searched: set[Key] = set()

    def both(self, *key: str) -> None:
        self.filed.add(key)
        self.searched.add(key)

    def wide(self, narrow: bool, wide: Key, lacking: Key) -> None:
        """``wide`` is what a record lacking a field searches, and ``lacking`` where it
        is filed; a record with the field is filed under ``wide`` and searches ``lacking``
        (its own narrow keys already meet those of its kind)."""
        if narrow:
            self.filed.add(wide)
            self.searched.add(lacking)
        else:
            self.searched.add(wide)
            self.both(*lacking)


# Cached for the record being linked: resolving it, remembering it and any merge it
# makes each need its keys.
@lru_cache(maxsize=1024)
def blocking_keys(record: PersonRecord) -> Keys:
    """Where ``record`` is filed and what it searches (the passes above)."""
    given_text, family_text = fold(record.given_name), fold(record.family_name)
    family = sound_code(record.family_name)
    given = name_key(record.given_name) if given_text else ""
    dob = record.date_of_birth
    postcode = postcode_key(record.postcode)
    keys = _Keys()
    names = []
    if given and family:
        names.append((given, family))
        # Swapped: this record's names read the other way give the other's own key.
        swapped = (name_key(record.family_name), sound_code(record.given_name))
        if swapped != (given, family) and all(swapped):
            names.append(swapped)
    # Either order: a day and month turned still meet.
    year, day_month = (
        (str(dob.year), tuple(map(str, sorted((dob.day, dob.month))))) if dob else ("", ())
    )
    for g, f in names:
        keys.wide(dob is not None, ("names", g, f), ("names_undated", g, f))
        if dob:
            keys.both("names_year", g, f, year)
            keys.both("names_day_month", g, f, *day_month)
    if dob and given and family:
        # A nickname for a full name with a birth date mistyped: searched under each
        # form, not filed (the other finds this one under its own name the same way).
        for form in forms(given_text):
            keys.searched.add(("names_year", form, family, year))
            keys.searched.add(("names_day_month", form, family, *day_month))
    given_letters = {n[:1] for n in (given, given_text) if n}
    family_letter = family_text[:1]
    letters = sorted(given_letters | {family_letter} - {""})
    if dob:
        dates = [dob.isoformat()]
        if dob.day <= 12 and dob.day != dob.month:
            dates.append(dob.replace(month=dob.day, day=dob.month).isoformat())
        for when in dates:
            if given:
                keys.both("dob_given", when, given)
                # A nickname for a full name (Bill, William): searched, not filed, as
                # the other finds this one under its own name the same way.
                for form in forms(given_text):
                    keys.searched.add(("dob_given", when, form))
            if given_text and family_text:
                # Swapped, one of the names mistyped: each name looked for in the slot
                # the other record would file it under.
                keys.searched.add(("dob_given", when, name_key(record.family_name)))
                keys.searched.add(("dob_family", when, sound_code(record.given_name)))
            if family:
                keys.both("dob_family", when, family)
            if postcode:
                keys.both("postcode_dob", postcode, when)
            for g in given_letters if family_letter else ():
                keys.both("dob_initials", when, g + family_letter)
                keys.both("dob_initials", when, family_letter + g)
            for letter in letters:
                whole = bool(given_letters and family_letter)
                keys.wide(whole, ("dob_letter", when, letter), ("dob_letter_partial", when, letter))
        for g in given_letters if family else ():
            keys.both("year_month_family", year, str(dob.month), family, g)
            keys.both("year_day_family", year, str(dob.day), family, g)
        if given and family_letter:
            keys.both("year_month_given", year, str(dob.month), given, family_letter)
            keys.both("year_day_given", year, str(dob.day), given, family_letter)
    if postcode:
        if family:
            keys.both("family_postcode", family, postcode)
        for letter in letters:
            keys.both("postcode_letter", postcode, letter)
    return Keys(frozenset(keys.filed), frozenset(keys.searched))
