"""Agency records and canonical events the tests build: the example files mapped, and
one-person police incidents for the linker's edge cases."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime
from pathlib import Path

from ehx.adapters import ADAPTERS
from ehx.schemas import Agency, CanonicalEvent
from tests.helpers import EXAMPLES

#: When the tests' records are mapped and decided.
NOW = datetime(2026, 11, 23, 12, tzinfo=UTC)


def events(agency: Agency, name: str) -> list[CanonicalEvent]:
    """The canonical events of one of the example files, as the agency's adapter maps them."""
    return example_events(agency, EXAMPLES / name)


#: A child protection plan, sent by health about Maryam (a plan view notifies its holder).
PLAN = Path(__file__).parent / "fixtures" / "cp-plan" / "health-maryam-cp-plan.json"


def example_events(agency: Agency, path: Path) -> list[CanonicalEvent]:
    """The canonical events of an agency's file, as its adapter maps them."""
    adapter = ADAPTERS[agency]
    frames = adapter.frame(io.BytesIO(path.read_bytes()), path.name)
    return [e for frame in frames for e in adapter.map(frame, NOW).events]


def incident(ref: str, person_ref: str, given: str, born: str, postcode: str) -> CanonicalEvent:
    """A police incident about one person, with no identifier shared with any other."""
    adapter = ADAPTERS[Agency.POLICE]
    raw = io.BytesIO(police_line(ref, person_ref, given, born, postcode))
    [frame] = list(adapter.frame(raw, "t.jsonl"))
    [event] = adapter.map(frame, NOW).events
    return event


def police_line(ref: str, person_ref: str, given: str, born: str, postcode: str) -> bytes:
    line = {
        "incident_ref": ref,
        "version": 1,
        "force": "West Midlands Police",
        "occurred_at": "2026-11-01T21:00:00Z",
        "reported_at": "2026-11-01T21:10:00Z",
        "type": "domestic_abuse",
        "summary": "Report of shouting.",
        "location": {"address": "1 High Street, Birmingham", "postcode": postcode},
        "dash_risk": "standard",
        "children_present": False,
        "weapon_involved": False,
        "persons": [
            {
                "person_ref": person_ref,
                "pnc_id": None,
                "given_name": given,
                "family_name": "Hussain",
                "date_of_birth": born,
                "role": "victim",
                "address": "1 High Street, Birmingham",
                "postcode": postcode,
            }
        ],
        "officer": {"collar_number": "1234", "name": "PC Test"},
    }
    return json.dumps(line).encode() + b"\n"


MOHAMMED = ("WMP-1", "WMP-P-1", "Mohammed", "2012-03-04", "B11 4AA")


#: Name variant, day and month swapped, another postcode: 18.8 bits, between the bands.
MUHAMMAD = ("WMP-2", "WMP-P-2", "Muhammad", "2012-04-03", "B12 9ZZ")
