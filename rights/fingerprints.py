"""What identifies an erased person, kept only as salted hashes, and a search for it.

An erasure must be provable without keeping what it erased. Before removing a person,
the erasure takes salted SHA-256 hashes of each way the records spelt them (given name,
family name and date of birth together) and of each identifier (NHS number, UPN, PNC
id, agency and tenancy references). The proof then walks every row and every message
it can read, hashes what looks like a name or an identifier the same way, and reports
any match. A name alone is never hashed: her children share her family name, and their
records stay.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from datetime import date
from typing import Any

import orjson

#: Shorter strings are not identifiers (a ward code, a band); hashing them invites
#: collisions with someone else's.
SHORTEST_IDENTIFIER = 6


def _hash(salt: str, *parts: object) -> str:
    text = "|".join([salt, *(str(p).strip().casefold() for p in parts)])
    return hashlib.sha256(text.encode()).hexdigest()


def name_print(salt: str, given: object, family: object, born: object) -> str:
    return _hash(
        salt, "name", given, family, born.isoformat() if isinstance(born, date) else born or ""
    )


def identifier_prints(salt: str, value: str) -> set[str]:
    """``nhs:9434765919`` and ``9434765919`` both: the linker namespaces identifiers."""
    values = {value, value.partition(":")[2]} if ":" in value else {value}
    return {_hash(salt, "id", v) for v in values if len(v.strip()) >= SHORTEST_IDENTIFIER}


def prints_of(
    salt: str, person: Iterable[dict[str, Any]], others: Iterable[dict[str, Any]] = ()
) -> set[str]:
    """The prints of a person, from each way their records describe them (dicts with
    ``given_name``, ``family_name``, ``date_of_birth`` and ``identifiers``). An identifier
    ``others`` hold too (a tenancy reference is the household's) is not theirs alone, and
    stays with the people it also identifies."""
    shared = {v for other in others for v in _identifier_values(other.get("identifiers"))}
    found: set[str] = set()
    for described in person:
        found.add(
            name_print(
                salt,
                described["given_name"],
                described["family_name"],
                described.get("date_of_birth"),
            )
        )
        for value in _identifier_values(described.get("identifiers")):
            if value not in shared and value.partition(":")[2] not in shared:
                found |= identifier_prints(salt, value)
    return found


def prints_in(salt: str, value: Any) -> Iterator[str]:
    """Every print of what ``value`` holds: a row, a message, JSON in a text column."""
    if isinstance(value, dict):
        if "given_name" in value and "family_name" in value:
            yield name_print(
                salt, value["given_name"], value["family_name"], value.get("date_of_birth")
            )
        for item in value.values():
            yield from prints_in(salt, item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from prints_in(salt, item)
    elif isinstance(value, bytes | str):
        text = value.decode(errors="replace") if isinstance(value, bytes) else value
        if text[:1] in ("{", "["):
            try:
                yield from prints_in(salt, orjson.loads(text))
                return
            except orjson.JSONDecodeError:
                pass
        yield from identifier_prints(salt, text)


def _identifier_values(identifiers: Any) -> Iterator[str]:
    if isinstance(identifiers, dict):
        yield from (str(v) for v in identifiers.values() if v)
    elif isinstance(identifiers, list | tuple):
        yield from (str(v) for v in identifiers if v)
