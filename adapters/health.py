"""Health: HL7 FHIR R4 Bundles, one health event about one patient per Bundle.

Bundles are validated with the ``fhir.resources`` models. Its ``R4B`` package is used:
R4B changed none of the resources read here (Bundle, Patient, RelatedPerson, Encounter,
Appointment, Flag) from R4, and the library's current R4-line models live there.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import IO, Any, ClassVar, Literal

from fhir.resources.R4B.bundle import Bundle
from pydantic import ValidationError

from ehx.adapters.base import MappedRecord, build_event, require_past
from ehx.adapters.checks import nhs_number_problem
from ehx.adapters.fhir import (
    codings,
    concept_words,
    current_address,
    current_name,
    empty_element,
    instant,
    relationship_words,
    restriction,
    sender,
    unresolved,
)
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
#: Unresolved references named in one refusal; the count says how many more.
_NAMED = 5
#: One Bundle is one event about one patient: a few entries, never thousands. Checked
#: before the FHIR models validate it (10,000 entries held a server a second each).
MAX_ENTRIES = 200


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

        entries_sent = data.get("entry")
        if isinstance(entries_sent, list) and len(entries_sent) > MAX_ENTRIES:
            raise refuse(
                f"a Bundle holds one event: at most {MAX_ENTRIES} entries, "
                f"this one has {len(entries_sent)}",
                "entry",
            )
        empty = empty_element(data)
        if empty is not None:
            raise refuse(
                "not valid FHIR: an element is empty (it needs a value or children)", empty
            )
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
        dangling = unresolved(raw_entries, set(known))
        if dangling:
            more = len(dangling) - _NAMED
            count = "a reference does" if len(dangling) == 1 else f"{len(dangling)} references do"
            raise refuse(
                f"{count} not resolve inside the Bundle: "
                + "; ".join(dangling[:_NAMED])
                + (f"; and {more} more" if more > 0 else ""),
                "entry.resource.reference",
            )

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
        provider, problem = sender(happening, known)
        if problem:
            raise refuse(problem, f"{happening.get_resource_type()}.serviceProvider.identifier")

        subjects = [self._patient_subject(patient, position, now)]
        warnings = []
        for index, entry in enumerate(entries):
            resource = entry.resource
            if resource.get_resource_type() != "RelatedPerson":
                continue
            try:
                subjects.append(self._related_subject(resource, position, now))
            except RecordRefused as dropped:
                # A related person is context, not the event: the child's record is not
                # refused for a parent's missing name, but the sender is told.
                warnings.append(
                    f"entry[{index}] RelatedPerson left out: {dropped.reason} ({dropped.field})"
                )

        event_type, payload, occurred, categories = self._event(happening, refuse)
        if event_type is EventType.HEALTH_ENCOUNTER:
            payload["service_provider"] = payload.get("service_provider") or provider.name
        require_past(self.agency, position, "occurred", occurred, now)
        event = build_event(
            source=dict(
                agency=self.agency,
                system=provider.name or "NHS",
                record_ref=bundle.id,
                record_version=int(version_text),
                organisation=provider.ods_code,
            ),
            event_type=event_type,
            occurred_at=occurred,
            recorded_at=now,
            subjects=tuple(subjects),
            categories=categories,
            sensitivity=Sensitivity.SPECIAL_CATEGORY,
            payload=payload,
        )
        return MappedRecord(bundle.id, int(version_text), (event,), tuple(warnings))

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
        subject = self._person(patient, position, now, "Patient")
        subject["identifiers"] = dict(nhs_number=nhs_number)
        subject["role"] = Role.PATIENT
        return subject

    def _related_subject(self, related: Any, position: str, now: datetime) -> dict[str, Any]:
        subject = self._person(related, position, now, "RelatedPerson")
        subject["role"] = Role.RELATED_PERSON
        subject["relationship"] = relationship_words(related.relationship)
        return subject

    def _person(self, resource: Any, position: str, now: datetime, kind: str) -> dict[str, Any]:
        """Name, birth, death and address in force now, and any PDS restriction."""
        name = current_name(resource, now)
        if name is None:
            reason = "a person needs a given and family name"
            raise RecordRefused(self.agency.value, position, reason, f"{kind}.name")
        require_past(self.agency, position, f"{kind}.birthDate", resource.birthDate, now)
        address, postcode = current_address(resource, now)
        died = instant(getattr(resource, "deceasedDateTime", None))
        require_past(self.agency, position, f"{kind}.deceasedDateTime", died, now)
        return dict(
            identifiers=dict(),
            demographics=dict(
                given_name=name[0],
                family_name=name[1],
                date_of_birth=resource.birthDate,
                address=address,
                postcode=postcode,
                date_of_death=died.date() if died else None,
                deceased=True if died or getattr(resource, "deceasedBoolean", None) else None,
            ),
            restriction=restriction(resource),
        )

    def _event(
        self, resource: Any, refuse: Any
    ) -> tuple[EventType, dict[str, Any], datetime, tuple[Category, ...]]:
        kind = resource.get_resource_type()
        if kind == "Encounter":
            code = resource.class_fhir.code if resource.class_fhir else None
            if code not in ("EMER", "AMB", "HH"):
                raise refuse("Encounter class must be EMER, AMB or HH", "Encounter.class.code")
            start = instant(resource.period.start if resource.period else None)
            if start is None:
                raise refuse("an Encounter needs period.start", "Encounter.period.start")
            end = instant(resource.period.end)
            words = [concept_words(c) for c in resource.reasonCode or []]
            reason = "; ".join(w for w in words if w) or None
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
                    reason_codes=codings(resource.reasonCode),
                ),
                start,
                (Category.HEALTH,),
            )
        if kind == "Appointment":
            if resource.status != "noshow":
                raise refuse(
                    "only an Appointment with status noshow is accepted", "Appointment.status"
                )
            start = instant(resource.start)
            if start is None:
                raise refuse("an Appointment needs start", "Appointment.start")
            words = [concept_words(c) for c in resource.serviceType or []]
            service = "; ".join(w for w in words if w) or None
            return (
                EventType.HEALTH_NOT_BROUGHT,
                dict(
                    kind="health.not_brought",
                    service=service,
                    appointment_start=start,
                    service_codes=codings(resource.serviceType),
                ),
                start,
                (Category.HEALTH,),
            )
        text = concept_words(resource.code) if resource.code else None
        if not text:
            raise refuse("a Flag needs code.text or a coding", "Flag.code")
        start = instant(resource.period.start if resource.period else None)
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
                period_end=instant(resource.period.end),
            ),
            start,
            categories,
        )
