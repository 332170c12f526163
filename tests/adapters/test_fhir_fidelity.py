"""Health records as NHS systems send them: built from the public UK Core and PDS examples.

The Bundles in tests/fixtures/uk-core/ (see its README for where each part comes from)
carry what real trusts send and the shared examples do not: the trust as a referenced
Organization with its ODS code, a PDS restricted patient, coded content with no text,
name and address histories, a death, and RelatedPersons as PDS shapes them.
"""

from __future__ import annotations

import copy
import io
import json
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from ehx.adapters import ADAPTERS, MappedRecord
from ehx.adapters.ingest import Ingestor
from ehx.adapters.registry import RecordRegistry
from ehx.broker.topics import Topic
from ehx.schemas import Agency, CanonicalEvent, KeyStore, RecordRefused, Restriction, Role
from tests.helpers import RecordingPublisher

NOW = datetime(2026, 11, 23, 12, tzinfo=UTC)
UK_CORE = Path(__file__).resolve().parents[1] / "fixtures" / "uk-core"
HEALTH = ADAPTERS[Agency.HEALTH]


def bundle(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((UK_CORE / name).read_bytes())
    return data


def mapped(data: dict[str, Any]) -> MappedRecord | RecordRefused:
    [record] = HEALTH.frame(io.BytesIO(json.dumps(data).encode()), "trust.json")
    try:
        return HEALTH.map(record, NOW)
    except RecordRefused as refusal:
        return refusal


def event_of(data: dict[str, Any]) -> CanonicalEvent:
    result = mapped(data)
    assert isinstance(result, MappedRecord), result
    [event] = result.events
    return event


def resource(data: dict[str, Any], kind: str) -> dict[str, Any]:
    found: dict[str, Any] = next(
        e["resource"] for e in data["entry"] if e["resource"]["resourceType"] == kind
    )
    return found


# 1. The sending trust ------------------------------------------------------------------


def test_the_trust_is_read_from_the_referenced_organization_and_its_ods_code() -> None:
    event = event_of(bundle("leeds-ed-attendance.json"))
    assert event.source.organisation == "RR8"
    assert event.source.system == "LEEDS TEACHING HOSPITALS NHS TRUST"
    assert event.payload.service_provider == "LEEDS TEACHING HOSPITALS NHS TRUST"  # type: ignore[union-attr]


def test_a_flags_author_and_an_appointments_organisation_name_the_trust_too() -> None:
    assert event_of(bundle("pds-restricted-flag.json")).source.organisation == "RYW"
    assert event_of(bundle("pds-deceased-not-brought.json")).source.organisation == "RR8"


def test_a_display_alone_names_no_organisation() -> None:
    data = bundle("leeds-ed-attendance.json")
    resource(data, "Encounter")["serviceProvider"] = {"display": "Heartlands Hospital"}
    event = event_of(data)
    assert event.source.organisation is None and event.source.system == "Heartlands Hospital"


def test_a_malformed_ods_code_is_refused_with_the_field() -> None:
    data = bundle("leeds-ed-attendance.json")
    resource(data, "Organization")["identifier"][0]["value"] = "rr-8!"
    refusal = mapped(data)
    assert isinstance(refusal, RecordRefused) and "ODS code" in refusal.reason
    assert refusal.field == "Encounter.serviceProvider.identifier"


async def test_a_record_naming_another_trust_than_the_sender_is_refused(
    engine: Engine, keys: KeyStore
) -> None:
    """``--org`` (and, with the organisations work, a token) says who is sending: a
    record that names another trust is refused; one naming none is marked as the
    sender's."""
    publisher = RecordingPublisher()

    def run(organisation: str) -> Ingestor:
        return Ingestor(
            HEALTH,
            RecordRegistry(engine),
            keys.signer(Agency.HEALTH),
            publisher,
            organisation=organisation,
        )

    leeds = json.dumps(bundle("leeds-ed-attendance.json")).encode()
    refused = await run("RYW").ingest(io.BytesIO(leeds), "leeds.json")
    assert refused.accepted == 0
    assert "names organisation RR8, but it was sent as RYW's" in refused.refused[0].reason
    unnamed = bundle("leeds-ed-attendance.json")
    resource(unnamed, "Encounter")["serviceProvider"] = {"display": "Emergency Department"}
    done = await run("RR8").ingest(io.BytesIO(json.dumps(unnamed).encode()), "unnamed.json")
    assert done.accepted == 1
    [message] = publisher.on(Topic.raw(Agency.HEALTH))
    assert CanonicalEvent.from_bytes(message.value).source.organisation == "RR8"


# 2. The restricted patient -------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "marked"), [("R", Restriction.RESTRICTED), ("V", Restriction.VERY_RESTRICTED)]
)
def test_a_pds_restricted_patient_is_marked_on_the_event(code: str, marked: Restriction) -> None:
    data = bundle("pds-restricted-flag.json")
    resource(data, "Patient")["meta"]["security"][0]["code"] = code
    [patient] = event_of(data).subjects
    assert patient.restriction is marked


def test_an_unrestricted_patient_is_not_marked() -> None:
    subjects = event_of(bundle("leeds-ed-attendance.json")).subjects
    assert [s.restriction for s in subjects] == [None, None]


# 3. Coded content ----------------------------------------------------------------------


def test_a_reason_coded_only_in_snomed_is_put_in_words_and_kept_as_coded() -> None:
    event = event_of(bundle("leeds-ed-attendance.json"))
    payload = event.payload
    assert payload.reason == "fracture of bone"  # type: ignore[union-attr]
    [coding] = payload.reason_codes  # type: ignore[union-attr]
    assert (coding.system, coding.code) == ("http://snomed.info/sct", "125605004")


def test_the_senders_display_is_preferred_and_an_unknown_code_is_named() -> None:
    data = bundle("leeds-ed-attendance.json")
    reason = resource(data, "Encounter")["reasonCode"][0]["coding"][0]
    reason["display"] = "Fracture of radius"
    assert event_of(data).payload.reason == "Fracture of radius"  # type: ignore[union-attr]
    reason.pop("display")
    reason["code"] = "999999999"
    words = event_of(data).payload.reason  # type: ignore[union-attr]
    assert words == "SNOMED CT 999999999 (no description sent)"


def test_a_coded_service_and_coded_relationships_read_as_words() -> None:
    not_brought = event_of(bundle("pds-deceased-not-brought.json"))
    assert not_brought.payload.service == "orthopaedic surgery"  # type: ignore[union-attr]
    guardian = [s for s in not_brought.subjects if s.role is Role.RELATED_PERSON]
    assert [s.relationship for s in guardian] == ["guardian"]
    ed = event_of(bundle("leeds-ed-attendance.json"))
    assert [s.relationship for s in ed.subjects if s.role is Role.RELATED_PERSON] == ["wife"]


# 4. Names and addresses in force, and a death ------------------------------------------


def test_the_current_official_name_and_home_address_are_taken() -> None:
    patient = event_of(bundle("leeds-ed-attendance.json")).subjects[0].demographics
    assert (patient.given_name, patient.family_name) == ("Jane", "Smythe")
    assert (patient.address, patient.postcode) == ("3 Park Square East, Leeds", "LS1 2NE")


def test_an_ended_address_is_not_sent_and_an_ended_name_is_the_best_known() -> None:
    patient = event_of(bundle("pds-deceased-not-brought.json")).subjects[0].demographics
    assert (patient.given_name, patient.family_name) == ("Jane", "Smith")
    assert (patient.address, patient.postcode) == (None, None)


def test_a_death_is_recorded() -> None:
    patient = event_of(bundle("pds-deceased-not-brought.json")).subjects[0].demographics
    assert patient.date_of_death == date(2026, 11, 20) and patient.deceased is True
    alive = event_of(bundle("leeds-ed-attendance.json")).subjects[0].demographics
    assert (alive.date_of_death, alive.deceased) == (None, None)


# 5. RelatedPersons ---------------------------------------------------------------------


def test_a_nameless_related_person_is_left_out_with_a_warning_not_the_childs_event() -> None:
    data = bundle("leeds-ed-attendance.json")
    resource(data, "RelatedPerson").pop("name")
    result = mapped(data)
    assert isinstance(result, MappedRecord)
    assert [s.role for s in result.events[0].subjects] == [Role.PATIENT]
    [warning] = result.warnings
    assert "entry[3] RelatedPerson left out" in warning and "given and family name" in warning


def test_an_empty_reference_object_is_invalid_fhir_and_refused_with_its_path() -> None:
    data = bundle("leeds-ed-attendance.json")
    resource(data, "RelatedPerson")["patient"] = {}
    refusal = mapped(data)
    assert isinstance(refusal, RecordRefused) and "not valid FHIR" in refusal.reason
    assert refusal.field == "entry[3].resource.patient"


# 6. References that do not resolve -----------------------------------------------------


def test_each_unresolved_reference_is_named_with_its_entry() -> None:
    data = bundle("leeds-ed-attendance.json")
    # As the UK Core Encounter example has them: a consultant and a ward not in the Bundle.
    encounter = resource(data, "Encounter")
    encounter["participant"] = [
        {"individual": {"reference": "Practitioner/UKCore-Practitioner-ConsultantSandraGose"}}
    ]
    encounter["location"] = [{"location": {"reference": "Location/UKCore-Location-Cardiology"}}]
    refusal = mapped(data)
    assert isinstance(refusal, RecordRefused)
    assert refusal.reason.startswith("2 references do not resolve inside the Bundle")
    assert "entry[2] Encounter/UKCore-Encounter-InpatientEncounter-Example refers to" in (
        refusal.reason
    )
    assert "'Practitioner/UKCore-Practitioner-ConsultantSandraGose'" in refusal.reason
    assert "'Location/UKCore-Location-Cardiology'" in refusal.reason


def test_many_unresolved_references_are_counted_and_nhs_numbers_are_not_quoted() -> None:
    data = bundle("leeds-ed-attendance.json")
    encounter = resource(data, "Encounter")
    encounter["participant"] = [
        {"individual": {"reference": f"Practitioner/p{n}"}} for n in range(23)
    ]
    encounter["subject"] = {"reference": "Patient/9000000017"}
    refusal = mapped(copy.deepcopy(data))
    assert isinstance(refusal, RecordRefused)
    assert refusal.reason.startswith("24 references do not resolve")
    assert refusal.reason.endswith("and 19 more")
    assert "9000000017" not in refusal.reason and "'Patient/<NHS number>'" in refusal.reason
