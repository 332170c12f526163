"""Reading a FHIR Bundle as NHS systems send it: references, codes, current names.

What the health adapter needs beyond the ``fhir.resources`` models: which references
do not resolve (named, so the trust's engineer can fix them), the sending
organisation's ODS code, plain words for coded content, and the name and address in
force now rather than the first one listed.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Any

from ehx.schemas.vocabulary import Restriction

ODS_SYSTEM = "https://fhir.nhs.uk/Id/ods-organization-code"
ODS_CODE = re.compile(r"[A-Z0-9]{3,5}")
SNOMED = "http://snomed.info/sct"
SERVICE_TYPE = "http://terminology.hl7.org/CodeSystem/service-type"

#: The PDS confidentiality codes (meta.security) that restrict a person.
RESTRICTIONS = {"R": Restriction.RESTRICTED, "V": Restriction.VERY_RESTRICTED}

#: Relationship codes (HL7 v3 RoleCode, HL7 v2 table 0131, UK Core's additional roles)
#: in the words a practitioner uses; a code not here shows its display, then itself.
RELATIONSHIPS = {
    "MTH": "mother",
    "FTH": "father",
    "NMTH": "natural mother",
    "NFTH": "natural father",
    "STPMTH": "stepmother",
    "STPFTH": "stepfather",
    "PRN": "parent",
    "PRNFOST": "foster parent",
    "GRMTH": "grandmother",
    "GRFTH": "grandfather",
    "GRPRN": "grandparent",
    "GUARD": "guardian",
    "Guardian": "guardian",
    "SIB": "sibling",
    "BRO": "brother",
    "SIS": "sister",
    "AUNT": "aunt",
    "UNCLE": "uncle",
    "WIFE": "wife",
    "HUSB": "husband",
    "SPS": "spouse",
    "DOMPART": "partner",
    "FAMMEMB": "family member",
    "FRND": "friend",
    "NBOR": "neighbour",
    "C": "emergency contact",
    "N": "next of kin",
}

#: Words for the SNOMED CT concepts and HL7 service types the exchange's senders use
#: without a display; anything else is named by its code system and code.
LABELS = {
    (SNOMED, "7922000"): "general treatment",
    (SNOMED, "21522001"): "abdominal pain",
    (SNOMED, "25064002"): "headache",
    (SNOMED, "125605004"): "fracture of bone",
    (SNOMED, "66214007"): "substance abuse",
    (SNOMED, "248062006"): "self-injurious behaviour",
    (SERVICE_TYPE, "124"): "general practice",
    (SERVICE_TYPE, "218"): "orthopaedic surgery",
}
_SYSTEM_NAMES = {SNOMED: "SNOMED CT", SERVICE_TYPE: "service type"}


def empty_element(node: Any, path: str = "") -> str | None:
    """The path of the first empty object: FHIR JSON allows none (``"patient": {}`` is a
    reference to nobody). Empty arrays are not valid either, but say nothing wrong and
    some senders write them; they are let through."""
    if isinstance(node, dict):
        if not node:
            return path or "(the Bundle)"
        for key, value in node.items():
            found = empty_element(value, f"{path}.{key}" if path else key)
            if found:
                return found
    elif isinstance(node, list):
        for index, item in enumerate(node):
            found = empty_element(item, f"{path}[{index}]")
            if found:
                return found
    return None


def references(node: Any) -> Iterator[str]:
    """Every ``reference`` string anywhere in a resource, as written."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "reference" and isinstance(value, str):
                yield value
            else:
                yield from references(value)
    elif isinstance(node, list):
        for item in node:
            yield from references(item)


def shown(reference: str) -> str:
    """A reference as a refusal may quote it: PDS names a Patient by its NHS number."""
    return re.sub(r"\d{10}", "<NHS number>", reference)[:120]


def unresolved(raw_entries: list[Any], known: set[str]) -> list[str]:
    """Each reference that does not resolve inside the Bundle, with the entry it is in."""
    found = []
    for index, raw in enumerate(raw_entries):
        name = f"{raw.get('resourceType', '?')}/{raw.get('id', '?')}"
        for reference in references(raw):
            if reference not in known and not reference.startswith("#"):
                found.append(f"entry[{index}] {name} refers to {shown(reference)!r}")
    return found


@dataclass(frozen=True)
class Sender:
    """The organisation that sent a health record, as the Bundle names it."""

    ods_code: str | None
    name: str | None


def sender(resource: Any, known: dict[str, Any]) -> tuple[Sender, str | None]:
    """Who provided the event (Encounter.serviceProvider, a Flag's author, an
    Appointment's organisation participant), and a problem if its ODS code is malformed."""
    kind = resource.get_resource_type()
    if kind == "Encounter":
        candidates = [resource.serviceProvider]
    elif kind == "Flag":
        candidates = [resource.author]
    else:
        candidates = [p.actor for p in resource.participant or []]
    for reference in candidates:
        if reference is None:
            continue
        target = known.get(reference.reference) if reference.reference else None
        if target is not None and target.get_resource_type() != "Organization":
            continue
        code = _ods(reference.identifier)
        if target is not None:
            code = code or next((c for c in map(_ods, target.identifier or []) if c), None)
        if code is not None and not ODS_CODE.fullmatch(code):
            return Sender(None, None), "the ODS code must be 3 to 5 capital letters and digits"
        name = (target.name if target is not None else None) or reference.display
        if code or name:
            return Sender(code, name), None
    return Sender(None, None), None


def _ods(identifier: Any) -> str | None:
    if identifier is not None and identifier.system == ODS_SYSTEM and identifier.value:
        return str(identifier.value).strip()
    return None


def restriction(resource: Any) -> Restriction | None:
    """R or V in the resource's meta.security: very restricted wins over restricted."""
    codes = {c.code for c in (resource.meta.security or [])} if resource.meta else set()
    if "V" in codes:
        return RESTRICTIONS["V"]
    return RESTRICTIONS["R"] if "R" in codes else None


def concept_words(concept: Any, labels: dict[tuple[str, str], str] = LABELS) -> str | None:
    """A CodeableConcept in words: its text, else a coding's display, else our label."""
    if concept.text:
        return str(concept.text)
    for coding in concept.coding or []:
        if coding.display:
            return str(coding.display)
    for coding in concept.coding or []:
        label = labels.get((coding.system or "", coding.code or ""))
        if label:
            return label
    for coding in concept.coding or []:
        if coding.code:
            system = _SYSTEM_NAMES.get(coding.system or "", coding.system or "code")
            return f"{system} {coding.code} (no description sent)"
    return None


def codings(concepts: list[Any] | None) -> tuple[dict[str, str | None], ...]:
    """Every coding of these concepts, kept as sent (system, code, display)."""
    return tuple(
        {"system": c.system, "code": c.code, "display": c.display}
        for concept in concepts or []
        for c in concept.coding or []
    )


def relationship_words(concepts: list[Any] | None) -> str | None:
    """A RelatedPerson's relationship as a practitioner would say it."""
    for concept in concepts or []:
        if concept.text:
            return str(concept.text)
        for coding in concept.coding or []:
            words = RELATIONSHIPS.get(coding.code or "") or coding.display or coding.code
            if words:
                return str(words)
    return None


def instant(value: Any) -> datetime | None:
    """A FHIR date or dateTime as an aware instant (a bare date is placed at midday UTC)."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, date):
        return datetime.combine(value, time(12), tzinfo=UTC)
    parsed = datetime.fromisoformat(str(value))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _in_force(element: Any, now: datetime) -> bool:
    period = element.period
    if period is None:
        return True
    start, end = instant(period.start), instant(period.end)
    return (start is None or start <= now) and (end is None or end >= now)


#: Which of a person's names to use, best first; ``old`` names are never current.
_NAME_USES = {"official": 0, "usual": 0, None: 1, "temp": 2, "nickname": 3, "maiden": 4}


def current_name(resource: Any, now: datetime) -> tuple[str, str] | None:
    """The official or usual name in force now; else the latest one that ended.

    A person always has a name: where every name listed has ended (PDS keeps the
    history), the most recent is the best we know, rather than refusing the record.
    """
    complete = [n for n in resource.name or [] if n.family and " ".join(n.given or []).strip()]
    current = [n for n in complete if n.use in _NAME_USES and _in_force(n, now)]
    if current:
        best = min(current, key=lambda n: _NAME_USES[n.use])
    elif complete:
        best = max(complete, key=lambda n: _ended(n))
    else:
        return None
    return " ".join(best.given or []).strip(), str(best.family)


def _ended(element: Any) -> datetime:
    end = instant(element.period.end) if element.period else None
    return end or datetime.max.replace(tzinfo=UTC)


def current_address(resource: Any, now: datetime) -> tuple[str | None, str | None]:
    """The home address in force now (never an old, temporary, work or billing one)."""
    for address in resource.address or []:
        if address.use not in (None, "home") or not _in_force(address, now):
            continue
        parts = [*(address.line or []), address.city]
        return ", ".join(p for p in parts if p) or None, address.postalCode
    return None, None
