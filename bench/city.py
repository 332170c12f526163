"""A synthetic city: families across the four agencies, with realistic errors and the truth.

Each family lives at an address; people have NHS numbers, school-age children UPNs,
some adults PNC ids. Agencies record them in their own formats, and the way real
records go wrong: name variants and nicknames, typos, day and month swapped, missing
dates and identifiers, a family recorded at an old address after a move. The truth (who
each subject really is, which family) is kept aside to measure linking against.
"""

from __future__ import annotations

import random
import string
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from ehx.linker.names import VARIANT_GROUPS

FAMILY_NAMES = [
    "Khan",
    "Ahmed",
    "Ali",
    "Hussain",
    "Begum",
    "Akhtar",
    "Iqbal",
    "Mahmood",
    "Rahman",
    "Shah",
    "Patel",
    "Singh",
    "Kaur",
    "Smith",
    "Jones",
    "Williams",
    "Taylor",
    "Brown",
    "Davies",
    "Evans",
    "Wilson",
    "Johnson",
    "Roberts",
    "Walker",
    "Wright",
    "Thompson",
    "White",
    "Hughes",
    "Edwards",
    "Green",
    "Hall",
    "Wood",
    "Harris",
    "Lewis",
    "Martin",
    "Jackson",
    "Clarke",
    "Clark",
    "Turner",
    "Hill",
    "Scott",
    "Cooper",
    "Morris",
    "Ward",
    "Moore",
    "King",
    "Watson",
    "Baker",
    "Harrison",
    "Morgan",
    "Campbell",
    "Young",
    "Allen",
    "Mitchell",
    "Anderson",
    "Okafor",
    "Mensah",
    "Adeyemi",
    "Kowalski",
    "Nowak",
    "Popescu",
    "Ibrahim",
    "Yusuf",
    "Osei",
]
GIVEN_ADULT = [
    "Mohammed",
    "Amina",
    "Imran",
    "Fatima",
    "Aisha",
    "Ahmed",
    "Yusuf",
    "Hussain",
    "Ibrahim",
    "Zara",
    "Sarah",
    "Emma",
    "Laura",
    "Rebecca",
    "Claire",
    "Michelle",
    "Kelly",
    "Gemma",
    "James",
    "Daniel",
    "Michael",
    "Robert",
    "William",
    "Thomas",
    "Paul",
    "Mark",
    "Lee",
    "Wayne",
    "Jason",
    "Craig",
    "Stacey",
    "Donna",
    "Tracey",
    "Chidi",
    "Kwame",
    "Ama",
    "Agnieszka",
    "Piotr",
    "Andrei",
    "Elena",
]
GIVEN_CHILD = [
    "Maryam",
    "Yusuf",
    "Mohammed",
    "Aisha",
    "Zara",
    "Ibrahim",
    "Amina",
    "Hamza",
    "Layla",
    "Adam",
    "Oliver",
    "Jack",
    "Harry",
    "Charlie",
    "George",
    "Noah",
    "Leo",
    "Amelia",
    "Olivia",
    "Isla",
    "Ava",
    "Mia",
    "Ella",
    "Grace",
    "Chloe",
    "Corey",
    "Danny",
    "Kai",
    "Tyler",
    "Jayden",
    "Ruby",
    "Evie",
    "Sophia",
    "Lily",
    "Freya",
    "Zain",
    "Ayaan",
    "Hana",
    "Inaya",
    "Maya",
    "Nathan",
    "Ethan",
]
STREETS = [
    "Stratford Road",
    "Coventry Road",
    "Ladypool Road",
    "Soho Road",
    "Alum Rock Road",
    "Washwood Heath Road",
    "Bordesley Green",
    "Moseley Road",
    "Pershore Road",
    "Bristol Road",
    "Hagley Road",
    "Kingstanding Road",
    "College Road",
    "Chester Road",
    "Shard End Crescent",
    "Castle Vale Road",
    "Druids Heath Lane",
]
_UPN_LETTERS = "ABCDEFGHJKLMNPQRTUVWXYZ"
TODAY = date(2026, 11, 1)


@dataclass
class Person:
    person_id: str
    family_id: str
    given: str
    family: str
    dob: date
    nhs: str
    upn: str | None
    pnc: str | None
    police_ref: str


@dataclass
class Family:
    family_id: str
    address: str
    postcode: str
    old_address: tuple[str, str] | None
    tenancy: str | None
    adults: list[Person] = field(default_factory=list)
    children: list[Person] = field(default_factory=list)


@dataclass
class SourceRecord:
    """One agency record in its own format, and who its subjects really are."""

    agency: str
    data: dict[str, Any]
    truth: list[str]


@dataclass
class City:
    families: list[Family]
    records: list[SourceRecord]

    @property
    def people(self) -> list[Person]:
        return [p for f in self.families for p in (*f.adults, *f.children)]


def _nhs(rng: random.Random) -> str:
    while True:
        digits = [rng.randrange(10) for _ in range(9)]
        check = 11 - sum(d * w for d, w in zip(digits, range(10, 1, -1), strict=True)) % 11
        check = 0 if check == 11 else check
        if check != 10:
            return "".join(map(str, digits)) + str(check)


def _upn(rng: random.Random) -> str:
    body = "330" + "".join(str(rng.randrange(10)) for _ in range(9))
    total = sum(int(c) * w for c, w in zip(body, range(2, 14), strict=True))
    return _UPN_LETTERS[total % 23] + body


def _postcode(rng: random.Random) -> str:
    letters = "ABDEFGHJLNPQRSTUWXYZ"
    inward = f"{rng.randrange(1, 10)}{rng.choice(letters)}{rng.choice(letters)}"
    return f"B{rng.randrange(1, 99)} {inward}"


class Noise:
    """The ways agency records go wrong, each at a rate."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self._variants = {g[0]: g for g in VARIANT_GROUPS}
        self._variants.update({name.capitalize(): g for g in VARIANT_GROUPS for name in g})

    def given(self, name: str) -> str:
        rng = self.rng
        group = self._variants.get(name) or self._variants.get(name.lower())
        if group and rng.random() < 0.15:
            return rng.choice(group).capitalize()
        if rng.random() < 0.03:
            return self._typo(name)
        return name

    def family(self, name: str) -> str:
        return self._typo(name) if self.rng.random() < 0.03 else name

    def _typo(self, name: str) -> str:
        if len(name) < 4:
            return name
        i = self.rng.randrange(1, len(name))
        return name[:i] + self.rng.choice(string.ascii_lowercase) + name[i + 1 :]

    def dob(self, value: date, missing: float = 0.0) -> date | None:
        rng = self.rng
        roll = rng.random()
        if roll < missing:
            return None
        roll = rng.random()
        if roll < 0.02 and value.day <= 12 and value.day != value.month:
            return date(value.year, value.day, value.month)
        if roll < 0.035:
            try:
                return value.replace(day=value.day % 28 + 1)
            except ValueError:
                return value
        return value


def generate_city(people: int = 20_000, seed: int = 2026) -> City:
    """A city of about ``people`` people and their agency records."""
    rng = random.Random(seed)
    noise = Noise(rng)
    families: list[Family] = []
    count = 0
    while count < people:
        fid = f"F{len(families):06d}"
        surname = rng.choice(FAMILY_NAMES)
        street = rng.choice(STREETS)
        family = Family(
            fid,
            f"{rng.randrange(1, 400)} {street}, Birmingham",
            _postcode(rng),
            (f"{rng.randrange(1, 400)} {rng.choice(STREETS)}, Birmingham", _postcode(rng))
            if rng.random() < 0.08
            else None,
            f"T-{rng.randrange(10**7):07d}" if rng.random() < 0.6 else None,
        )
        for _ in range(rng.choice((1, 2, 2, 2))):
            count += 1
            family.adults.append(_person(rng, fid, surname, count, adult=True))
        for _ in range(rng.choice((0, 1, 1, 2, 2, 3, 4))):
            count += 1
            family.children.append(_person(rng, fid, surname, count, adult=False))
        families.append(family)
    records: list[SourceRecord] = []
    for family in families:
        records += _housing(rng, noise, family)
        records += _health(rng, noise, family)
        records += _schools(rng, noise, family)
        records += _police(rng, noise, family)
    rng.shuffle(records)
    return City(families, records)


def _person(rng: random.Random, fid: str, surname: str, n: int, adult: bool) -> Person:
    if adult:
        dob = TODAY - timedelta(days=rng.randrange(19 * 365, 60 * 365))
        given = rng.choice(GIVEN_ADULT)
    else:
        dob = TODAY - timedelta(days=rng.randrange(0, 17 * 365))
        given = rng.choice(GIVEN_CHILD)
    age = (TODAY - dob).days // 365
    return Person(
        f"P{n:07d}",
        fid,
        given,
        surname if rng.random() < 0.9 or not adult else rng.choice(FAMILY_NAMES),
        dob,
        _nhs(rng),
        _upn(rng) if 4 <= age <= 16 else None,
        f"{rng.randrange(10, 99)}/{rng.randrange(10**6):06d}{rng.choice('ABCDEFGHJ')}"
        if adult and rng.random() < 0.2
        else None,
        f"WMP-P-{n:07d}",
    )


def _where(rng: random.Random, family: Family) -> tuple[str, str]:
    """The address an agency holds: now and then the family's old one."""
    if family.old_address and rng.random() < 0.4:
        return family.old_address
    return family.address, family.postcode


def _day(rng: random.Random) -> date:
    return TODAY - timedelta(days=rng.randrange(1, 700))


def _housing(rng: random.Random, noise: Noise, family: Family) -> list[SourceRecord]:
    if family.tenancy is None or rng.random() < 0.3:
        return []
    members = [*family.adults, *family.children]
    household = []
    for i, person in enumerate(members):
        dob = noise.dob(person.dob, missing=0.1)
        household.append(
            {
                "given_name": noise.given(person.given),
                "family_name": noise.family(person.family),
                "date_of_birth": dob.isoformat() if dob else None,
                "relationship": "lead_tenant"
                if i == 0
                else ("partner" if person in family.adults else "child"),
            }
        )
    data = {
        "record_ref": f"HSG-{family.family_id}-{rng.randrange(10**6)}",
        "version": 1,
        "landlord": "Birmingham City Council",
        "tenancy_ref": family.tenancy,
        "event_type": rng.choice(["rent_arrears", "overcrowding", "disrepair"]),
        "event_date": _day(rng).isoformat(),
        "address": family.address,
        "postcode": family.postcode,
        "household": household,
        "arrears_gbp": None,
        "bedrooms": 2,
        "description": "Synthetic.",
    }
    return [SourceRecord("housing", data, [p.person_id for p in members])]


def _health(rng: random.Random, noise: Noise, family: Family) -> list[SourceRecord]:
    records = []
    for person in (*family.adults, *family.children):
        for _ in range(rng.choice((0, 1, 1, 2))):
            address, postcode = _where(rng, family)
            patient = f"urn:uuid:{rng.getrandbits(128):032x}"
            entries: list[dict[str, Any]] = [
                {
                    "fullUrl": patient,
                    "resource": {
                        "resourceType": "Patient",
                        "identifier": [
                            {"system": "https://fhir.nhs.uk/Id/nhs-number", "value": person.nhs}
                        ]
                        if rng.random() < 0.9
                        else [],
                        "name": [
                            {
                                "given": [noise.given(person.given)],
                                "family": noise.family(person.family),
                            }
                        ],
                        "birthDate": (noise.dob(person.dob) or person.dob).isoformat(),
                        "address": [{"line": [address], "postalCode": postcode}],
                    },
                }
            ]
            truth = [person.person_id]
            if person in family.children and family.adults and rng.random() < 0.5:
                mother = family.adults[-1]
                entries.append(
                    {
                        "fullUrl": f"urn:uuid:{rng.getrandbits(128):032x}",
                        "resource": {
                            "resourceType": "RelatedPerson",
                            "patient": {"reference": patient},
                            "relationship": [{"text": "mother"}],
                            "name": [{"given": [mother.given], "family": mother.family}],
                            "birthDate": mother.dob.isoformat(),
                        },
                    }
                )
                truth.append(mother.person_id)
            entries.append(
                {
                    "fullUrl": f"urn:uuid:{rng.getrandbits(128):032x}",
                    "resource": {
                        "resourceType": "Encounter",
                        "status": "finished",
                        "class": {"code": rng.choice(["EMER", "AMB", "HH"])},
                        "subject": {"reference": patient},
                        "period": {
                            "start": datetime.combine(
                                _day(rng), datetime.min.time(), UTC
                            ).isoformat()
                        },
                    },
                }
            )
            data = {
                "resourceType": "Bundle",
                "id": f"uhb-{rng.getrandbits(48):012x}",
                "meta": {"versionId": "1"},
                "type": "collection",
                "entry": entries,
            }
            records.append(SourceRecord("health", data, truth))
    return records


def _schools(rng: random.Random, noise: Noise, family: Family) -> list[SourceRecord]:
    records = []
    for child in family.children:
        if child.upn is None:
            continue
        address, postcode = _where(rng, family)
        data = {
            "record_ref": f"SCH-{child.person_id}-{rng.randrange(10**6)}",
            "version": "1",
            "upn": child.upn,
            "given_name": noise.given(child.given),
            "family_name": noise.family(child.family),
            "date_of_birth": (noise.dob(child.dob) or child.dob).isoformat(),
            "school_urn": "103512",
            "school_name": "Synthetic Academy",
            "record_type": "attendance_summary",
            "record_date": _day(rng).isoformat(),
            "sessions_possible": "112",
            "sessions_attended": str(rng.randrange(40, 112)),
            "exclusion_type": "",
            "exclusion_reason": "",
            "concern_category": "",
            "concern_level": "",
            "description": "",
            "address": address,
            "postcode": postcode,
        }
        records.append(SourceRecord("schools", data, [child.person_id]))
    return records


def _police(rng: random.Random, noise: Noise, family: Family) -> list[SourceRecord]:
    if rng.random() > 0.15 or not family.adults:
        return []
    address, postcode = _where(rng, family)
    occurred = datetime.combine(_day(rng), datetime.min.time(), UTC) + timedelta(hours=21)
    people = [*family.adults, *family.children]
    roles = ["victim", "suspect"][: len(family.adults)] + ["child_present"] * len(family.children)
    persons = []
    for person, role in zip(people, roles, strict=True):
        dob = noise.dob(person.dob, missing=0.05)
        persons.append(
            {
                "person_ref": person.police_ref,
                "pnc_id": person.pnc,
                "given_name": noise.given(person.given),
                "family_name": noise.family(person.family),
                "date_of_birth": dob.isoformat() if dob else None,
                "role": role,
                "address": address,
                "postcode": postcode,
            }
        )
    data = {
        "incident_ref": f"WMP-{family.family_id}-{rng.randrange(10**6)}",
        "version": 1,
        "force": "West Midlands Police",
        "occurred_at": occurred.isoformat(),
        "reported_at": (occurred + timedelta(minutes=20)).isoformat(),
        "type": "domestic_abuse",
        "summary": "Synthetic.",
        "location": {"address": address, "postcode": postcode},
        "dash_risk": rng.choice(["standard", "medium", "high"]),
        "children_present": bool(family.children),
        "weapon_involved": False,
        "persons": persons,
        "officer": {"collar_number": "1", "name": "PC Synthetic"},
    }
    return [SourceRecord("police", data, [p.person_id for p in people])]
