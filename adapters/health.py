"""Health: HL7 FHIR R4 Bundles, one health event about one patient per Bundle.

Bundles are validated with the ``fhir.resources`` models. Its ``R4B`` package is used:
R4B changed none of the resources read here (Bundle, Patient, RelatedPerson, Encounter,
Appointment, Flag) from R4, and the library's current R4-line models live there.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, time
from typing import IO, Any, ClassVar, Literal

from fhir.resources.R4B.bundle import Bundle
from pydantic import ValidationError

from ehx.adapters.base import MappedRecord, build_event, require_past
from ehx.adapters.checks import nhs_number_problem
from ehx.adapters.framing import RawRecord, read_json_documents
from ehx.schemas import (
    Agency,
    Category,
    EventType,
    RecordRefused,
    Role,
    Sensitivity,
)

NHS_NUMBER_SYSTEM = "https://fhir.nhs.uk/Id/nhs-number"
_EVENT_RESOURCES = ("Encounter", "Appointment", "Flag")


def _references(node: Any) -> Iterator[str]:
    """Every ``reference`` string anywhere in a resource."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "reference" and isinstance(value, str):
                yield value
            else:
                yield from _references(value)
    elif isinstance(node, list):
        for item in node:
            yield from _references(item)


def _instant(value: Any) -> datetime | None:
    """A FHIR date or dateTime as an aware instant (a bare date is placed at midday UTC)."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, date):
        return datetime.combine(value, time(12), tzinfo=UTC)
    parsed = datetime.fromisoformat(str(value))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _flag_kind(
    text: str,
) -> Literal[
    "child_protection_plan", "looked_after_child", "unborn_child_protection_plan", "other"
]:
    lowered = text.lower()
    if "unborn" in lowered and "protection" in lowered:
        return "unborn_child_protection_plan"
    if "protection plan" in lowered:
        return "child_protection_plan"
    if "looked after" in lowered:
        return "looked_after_child"
    return "other"


class HealthAdapter:
    """Maps FHIR R4 Bundles to encounter, not-brought and flag events."""

    agency: ClassVar[Agency] = Agency.HEALTH
    content_types: ClassVar[tuple[str, ...]] = (
        "application/fhir+json",
        "application/json",
        "application/x-ndjson",
        "application/fhir+ndjson",
    )

    def frame(self, stream: IO[bytes], source: str) -> Iterator[RawRecord]:
        return read_json_documents(stream, source)

    def map(self, record: RawRecord, now: datetime) -> MappedRecord:
        data = record.parsed
        bundle_id = data.get("id") if isinstance(data.get("id"), str) else None
        position = f"{record.position} (Bundle {bundle_id})" if bundle_id else record.position

        def refuse(reason: str, field: str | None = None) -> RecordRefused:
            return RecordRefused(self.agency.value, position, reason, field)

        try:
            bundle = Bundle.model_validate(data)
        except ValidationError as exc:
            first = exc.errors(include_input=False, include_url=False, include_context=False)[0]
            field = ".".join(str(part) for part in first["loc"]) or None
            message = " ".join(first["msg"].split())
            raise refuse(f"not a valid FHIR R4 Bundle: {message}", field) from None
        except KeyError:
            # fhir.resources looks resource types up in a table and raises KeyError for
            # a name that is not a FHIR resource type.
            raise refuse(
                "not a valid FHIR R4 Bundle: an entry's resourceType is not a FHIR resource",
                "entry.resource.resourceType",
            ) from None
        if not bundle.id:
            raise refuse("a Bundle needs an id: it is the record reference", "id")
        version_text = bundle.meta.versionId if bundle.meta else None
        if not version_text or not version_text.isdigit() or int(version_text) < 1:
            raise refuse("meta.versionId must be a whole number of at least 1", "meta.versionId")

        entries: list[Any] = [entry for entry in (bundle.entry or []) if entry.resource is not None]
        raw_entries = [entry.get("resource", {}) for entry in data.get("entry") or []]
        known: dict[str, Any] = {}
        for entry in entries:
            resource = entry.resource
            if entry.fullUrl:
                known[entry.fullUrl] = resource
            if resource.id:
                known[f"{resource.get_resource_type()}/{resource.id}"] = resource
        for reference in (ref for raw in raw_entries for ref in _references(raw)):
            if reference not in known:
                raise refuse("a reference does not resolve inside the Bundle", "entry.reference")

        patients = [e.resource for e in entries if e.resource.get_resource_type() == "Patient"]
        if len(patients) != 1:
            raise refuse(f"a Bundle holds exactly one Patient, this one holds {len(patients)}")
        patient = patients[0]
        events = [e.resource for e in entries if e.resource.get_resource_type() in _EVENT_RESOURCES]
        if len(events) != 1:
            raise refuse(
                "a Bundle holds exactly one Encounter, Appointment or Flag, "
                f"this one holds {len(events)}"
            )
        happening = events[0]

        subjects = [self._patient_subject(patient, position, now)]
        for entry in entries:
            resource = entry.resource
            if resource.get_resource_type() != "RelatedPerson":
                continue
            subjects.append(self._related_subject(resource, position, now))

        event_type, payload, occurred, categories = self._event(happening, refuse)
        require_past(self.agency, position, "occurred", occurred, now)
        event = build_event(
            source=dict(
                agency=self.agency,
                system=payload.get("service_provider") or "NHS",
                record_ref=bundle.id,
                record_version=int(version_text),
            ),
            event_type=event_type,
            occurred_at=occurred,
            recorded_at=now,
            subjects=tuple(subjects),
            categories=categories,
            sensitivity=Sensitivity.SPECIAL_CATEGORY,
            payload=payload,
        )
        return MappedRecord(bundle.id, int(version_text), (event,))

    def _patient_subject(self, patient: Any, position: str, now: datetime) -> dict[str, Any]:
        nhs_number = None
        for identifier in patient.identifier or []:
            if identifier.system == NHS_NUMBER_SYSTEM and identifier.value:
                problem = nhs_number_problem(identifier.value)
                if problem:
                    raise RecordRefused(
                        self.agency.value, position, problem, "Patient.identifier.nhs-number"
                    )
                nhs_number = identifier.value.replace(" ", "")
        given, family = self._name(patient, position, "Patient.name")
        require_past(self.agency, position, "Patient.birthDate", patient.birthDate, now)
        address, postcode = self._address(patient)
        return dict(
            identifiers=dict(nhs_number=nhs_number),
            demographics=dict(
                given_name=given,
                family_name=family,
                date_of_birth=patient.birthDate,
                address=address,
                postcode=postcode,
            ),
            role=Role.PATIENT,
        )

    def _related_subject(self, related: Any, position: str, now: datetime) -> dict[str, Any]:
        given, family = self._name(related, position, "RelatedPerson.name")
        require_past(self.agency, position, "RelatedPerson.birthDate", related.birthDate, now)
        relationship = None
        for concept in related.relationship or []:
            relationship = concept.text or (concept.coding[0].code if concept.coding else None)
            if relationship:
                break
        address, postcode = self._address(related)
        return dict(
            identifiers=dict(),
            demographics=dict(
                given_name=given,
                family_name=family,
                date_of_birth=related.birthDate,
                address=address,
                postcode=postcode,
            ),
            role=Role.RELATED_PERSON,
            relationship=relationship,
        )

    def _name(self, resource: Any, position: str, field: str) -> tuple[str, str]:
        for name in resource.name or []:
            given = " ".join(name.given or []).strip()
            if name.family and given:
                return given, name.family
        raise RecordRefused(
            self.agency.value, position, "a person needs a given and family name", field
        )

    @staticmethod
    def _address(resource: Any) -> tuple[str | None, str | None]:
        for address in resource.address or []:
            parts = [*(address.line or []), address.city]
            return ", ".join(p for p in parts if p) or None, address.postalCode
        return None, None

    def _event(
        self, resource: Any, refuse: Any
    ) -> tuple[EventType, dict[str, Any], datetime, tuple[Category, ...]]:
        kind = resource.get_resource_type()
        if kind == "Encounter":
            code = resource.class_fhir.code if resource.class_fhir else None
            if code not in ("EMER", "AMB", "HH"):
                raise refuse("Encounter class must be EMER, AMB or HH", "Encounter.class.code")
            start = _instant(resource.period.start if resource.period else None)
            if start is None:
                raise refuse("an Encounter needs period.start", "Encounter.period.start")
            end = _instant(resource.period.end)
            reason = "; ".join(c.text for c in resource.reasonCode or [] if c.text) or None
            provider = resource.serviceProvider.display if resource.serviceProvider else None
            return (
                EventType.HEALTH_ENCOUNTER,
                dict(
                    kind="health.encounter",
                    encounter_class=code,
                    period_start=start,
                    period_end=end,
                    reason=reason,
                    service_provider=provider,
                ),
                start,
                (Category.HEALTH,),
            )
        if kind == "Appointment":
            if resource.status != "noshow":
                raise refuse(
                    "only an Appointment with status noshow is accepted", "Appointment.status"
                )
            start = _instant(resource.start)
            if start is None:
                raise refuse("an Appointment needs start", "Appointment.start")
            service = "; ".join(c.text for c in resource.serviceType or [] if c.text) or None
            return (
                EventType.HEALTH_NOT_BROUGHT,
                dict(kind="health.not_brought", service=service, appointment_start=start),
                start,
                (Category.HEALTH,),
            )
        text = resource.code.text if resource.code else None
        if not text:
            raise refuse("a Flag needs code.text", "Flag.code.text")
        start = _instant(resource.period.start if resource.period else None)
        if start is None:
            raise refuse("a Flag needs period.start", "Flag.period.start")
        flag_kind = _flag_kind(text)
        categories = (
            (Category.CHILD_IN_NEED_OR_PROTECTION,) if flag_kind != "other" else (Category.HEALTH,)
        )
        return (
            EventType.HEALTH_FLAG,
            dict(
                kind="health.flag",
                flag=text,
                flag_kind=flag_kind,
                period_start=start,
                period_end=_instant(resource.period.end),
            ),
            start,
            categories,
        )
