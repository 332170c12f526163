"""What a subject access release shows of one record: the requester's own information,
with other people's and staff's redacted as the policy says (``subject_access``).

Third parties are the record's other subjects (a child's sibling, the suspect, a
neighbour): their names, dates of birth, addresses and identifiers go, and so do their
names wherever the agency's free text repeats them. Staff are those the record names by
their work (an officer's collar number). The requester's own names stay even where a
relative shares them (a mother and son both Khan).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from ehx.consent.policy import SubjectAccess
from ehx.schemas import CanonicalEvent
from ehx.schemas.envelope import Subject

THIRD_PARTY = "[redacted: third party]"
STAFF = "[redacted: staff]"
#: Payload fields that name a member of staff rather than anyone the record is about.
STAFF_FIELDS = frozenset({"officer_collar_number"})


@dataclass(frozen=True)
class Released:
    """One record as the release shows it, and how many redactions were made in it."""

    record: dict[str, Any]
    redactions: int


def release(event: CanonicalEvent, own_ids: Iterable[str], rules: SubjectAccess) -> Released:
    """The record as sent (its signature and trace left out: transport, not content),
    redacted for the person whose ids are ``own_ids``."""
    mine = frozenset(own_ids)
    body = event.model_dump(mode="json", exclude={"signature", "trace"})
    redactions = 0
    if rules.third_parties == "redact":
        others = [s for s in event.subjects if s.person_id not in mine]
        body["subjects"] = [
            raw
            if subject.person_id in mine
            else {
                "role": raw["role"],
                "relationship": raw.get("relationship"),
                "person": THIRD_PARTY,
            }
            for raw, subject in zip(body["subjects"], event.subjects, strict=True)
        ]
        redactions += len(others)
        hidden = _words_of(others) - _words_of(s for s in event.subjects if s.person_id in mine)
        body["payload"], hits = _scrub(body["payload"], hidden)
        redactions += hits
    if rules.staff == "redact":
        for field in STAFF_FIELDS & body["payload"].keys():
            if body["payload"][field]:
                body["payload"][field] = STAFF
                redactions += 1
    return Released(body, redactions)


def _words_of(subjects: Iterable[Subject]) -> set[str]:
    """The names, addresses and identifiers of these people, as free text might repeat
    them (lower case; single letters and empty values left out)."""
    found: set[str] = set()
    for s in subjects:
        d, ids = s.demographics, s.identifiers
        values = [d.given_name, d.family_name, d.address, d.postcode, *ids.model_dump().values()]
        found |= {str(v).strip().lower() for v in values if v and len(str(v).strip()) > 1}
    return found


def _scrub(value: Any, hidden: set[str]) -> tuple[Any, int]:
    """``value`` with each hidden word replaced wherever it appears as a whole word."""
    if not hidden:
        return value, 0
    if isinstance(value, str):
        pattern = re.compile(
            r"\b(" + "|".join(re.escape(w) for w in sorted(hidden, key=len, reverse=True)) + r")\b",
            re.IGNORECASE,
        )
        scrubbed, hits = pattern.subn(THIRD_PARTY, value)
        return scrubbed, hits
    if isinstance(value, dict):
        total, out = 0, {}
        for key, item in value.items():
            out[key], hits = _scrub(item, hidden)
            total += hits
        return out, total
    if isinstance(value, list):
        total, items = 0, []
        for item in value:
            scrubbed, hits = _scrub(item, hidden)
            items.append(scrubbed)
            total += hits
        return items, total
    return value, 0
