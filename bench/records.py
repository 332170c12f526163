"""Synthetic agency files for benchmarks: valid records in each agency's format, at volume.

Identifiers are generated valid (NHS numbers pass modulus 11, UPNs carry the right check
letter), so every record is accepted and the benchmark measures the accepting path.
"""

from __future__ import annotations

import csv
import io
import json
import random
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from ehx.adapters.schools import HEADER

GIVEN = ["Amina", "Imran", "Yusuf", "Maryam", "Corey", "Danny", "Chloe", "Aisha", "Liam", "Zara"]
FAMILY = ["Khan", "Smith", "Begum", "Jones", "Ahmed", "Williams", "Patel", "Brown", "Ali", "Taylor"]
_UPN_LETTERS = "ABCDEFGHJKLMNPQRTUVWXYZ"


def nhs_number(rng: random.Random) -> str:
    while True:
        digits = [rng.randrange(10) for _ in range(9)]
        check = 11 - sum(d * w for d, w in zip(digits, range(10, 1, -1), strict=True)) % 11
        if check == 11:
            check = 0
        if check != 10:
            return "".join(map(str, digits)) + str(check)


def upn(rng: random.Random) -> str:
    body = "330" + "".join(str(rng.randrange(10)) for _ in range(9))
    total = sum(int(c) * w for c, w in zip(body, range(2, 14), strict=True))
    return _UPN_LETTERS[total % 23] + body


def _day(rng: random.Random) -> date:
    return date(2025, 1, 1) + timedelta(days=rng.randrange(600))


def _instant(rng: random.Random) -> datetime:
    return datetime.combine(_day(rng), datetime.min.time(), tzinfo=UTC) + timedelta(
        minutes=rng.randrange(1440)
    )


def _person(rng: random.Random) -> dict[str, str]:
    return {
        "given_name": rng.choice(GIVEN),
        "family_name": rng.choice(FAMILY),
        "date_of_birth": (date(1975, 1, 1) + timedelta(days=rng.randrange(15000))).isoformat(),
    }


def police_line(i: int, rng: random.Random) -> dict[str, object]:
    occurred = _instant(rng)
    persons = []
    for n, role in enumerate(["victim", "suspect", "child_present"]):
        persons.append(
            {
                "person_ref": f"WMP-P-{i:07d}-{n}",
                "pnc_id": None,
                **_person(rng),
                "role": role,
                "address": f"{rng.randrange(1, 300)} Stratford Road, Birmingham",
                "postcode": "B11 4AA",
            }
        )
    return {
        "incident_ref": f"WMP-BENCH-{i:08d}",
        "version": 1,
        "force": "West Midlands Police",
        "occurred_at": occurred.isoformat(),
        "reported_at": (occurred + timedelta(minutes=15)).isoformat(),
        "type": rng.choice(["domestic_abuse", "antisocial_behaviour", "welfare_concern"]),
        "summary": "Synthetic benchmark narrative. " * 8,
        "location": {"address": "Stratford Road, Birmingham", "postcode": "B11 4AA"},
        "dash_risk": rng.choice(["standard", "medium", "high", None]),
        "children_present": rng.random() < 0.5,
        "weapon_involved": False,
        "persons": persons,
        "officer": {"collar_number": str(rng.randrange(1000, 9999)), "name": "PC Bench"},
    }


def housing_line(i: int, rng: random.Random) -> dict[str, object]:
    return {
        "record_ref": f"BCC-HSG-BENCH-{i:08d}",
        "version": 1,
        "landlord": "Birmingham City Council",
        "tenancy_ref": f"T-{i:07d}",
        "event_type": rng.choice(["rent_arrears", "notice_seeking_possession", "overcrowding"]),
        "event_date": _day(rng).isoformat(),
        "address": f"{rng.randrange(1, 300)} Stratford Road, Birmingham",
        "postcode": "B11 4AA",
        "household": [
            {**_person(rng), "relationship": "lead_tenant"},
            {**_person(rng), "relationship": "partner"},
            {**_person(rng), "relationship": "child"},
        ],
        "arrears_gbp": round(rng.random() * 2000, 2),
        "bedrooms": 2,
        "description": "Synthetic benchmark description. " * 6,
    }


def school_row(i: int, rng: random.Random) -> list[str]:
    person = _person(rng)
    possible = 112
    cells = {
        "record_ref": f"SCH-BENCH-{i:08d}",
        "version": "1",
        "upn": upn(rng),
        "given_name": person["given_name"],
        "family_name": person["family_name"],
        "date_of_birth": (date(2010, 1, 1) + timedelta(days=rng.randrange(4000))).isoformat(),
        "school_urn": "103512",
        "school_name": "Sparkhill Park Academy",
        "record_type": "attendance_summary",
        "record_date": _day(rng).isoformat(),
        "sessions_possible": str(possible),
        "sessions_attended": str(rng.randrange(40, possible)),
        "address": "14 Stratford Road, Sparkhill, Birmingham",
        "postcode": "B11 4AA",
    }
    return [cells.get(column, "") for column in HEADER]


def health_bundle(i: int, rng: random.Random) -> dict[str, object]:
    patient = f"urn:uuid:00000000-0000-4000-8000-{i:012d}"
    start = _instant(rng)
    person = _person(rng)
    return {
        "resourceType": "Bundle",
        "id": f"uhb-bench-{i:08d}",
        "meta": {"versionId": "1"},
        "type": "collection",
        "entry": [
            {
                "fullUrl": patient,
                "resource": {
                    "resourceType": "Patient",
                    "identifier": [
                        {"system": "https://fhir.nhs.uk/Id/nhs-number", "value": nhs_number(rng)}
                    ],
                    "name": [{"given": [person["given_name"]], "family": person["family_name"]}],
                    "birthDate": person["date_of_birth"],
                    "address": [{"line": ["14 Stratford Road"], "postalCode": "B11 4AA"}],
                },
            },
            {
                "fullUrl": f"urn:uuid:00000000-0000-4000-9000-{i:012d}",
                "resource": {
                    "resourceType": "Encounter",
                    "status": "finished",
                    "class": {"code": "EMER"},
                    "subject": {"reference": patient},
                    "period": {"start": start.isoformat()},
                    "reasonCode": [{"text": "Synthetic benchmark attendance"}],
                    "serviceProvider": {"display": "Heartlands Hospital"},
                },
            },
        ],
    }


def write_file(agency: str, count: int, directory: Path, seed: int = 7) -> Path:
    """Write ``count`` valid records for ``agency`` into ``directory``; return the file."""
    rng = random.Random(seed)
    directory.mkdir(parents=True, exist_ok=True)
    if agency == "schools":
        path = directory / f"schools-{count}.csv"
        with path.open("w", newline="") as out:
            writer = csv.writer(out)
            writer.writerow(HEADER)
            for i in range(count):
                writer.writerow(school_row(i, rng))
        return path
    make = {"police": police_line, "housing": housing_line, "health": health_bundle}[agency]
    path = directory / f"{agency}-{count}.jsonl"
    with path.open("w") as out:
        buffer = io.StringIO()
        for i in range(count):
            buffer.write(json.dumps(make(i, rng)))
            buffer.write("\n")
            if i % 1000 == 999:
                out.write(buffer.getvalue())
                buffer = io.StringIO()
        out.write(buffer.getvalue())
    return path
