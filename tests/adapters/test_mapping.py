"""The shared example files map to the expected canonical events; bad records are refused."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime

import pytest

from ehx.adapters import ADAPTERS, MappedRecord
from ehx.adapters.framing import RawRecord
from ehx.schemas import Agency, Category, EventType, RecordRefused, Role
from tests.helpers import EXAMPLES

NOW = datetime(2026, 11, 23, 12, tzinfo=UTC)


def frames(agency: Agency, data: bytes, source: str = "file") -> list[RawRecord]:
    return list(ADAPTERS[agency].frame(io.BytesIO(data), source))


def map_all(agency: Agency, data: bytes) -> list[MappedRecord | RecordRefused]:
    out: list[MappedRecord | RecordRefused] = []
    for record in frames(agency, data):
        if record.problem:
            out.append(RecordRefused(agency.value, record.position, record.problem))
            continue
        try:
            out.append(ADAPTERS[agency].map(record, NOW))
        except RecordRefused as refusal:
            out.append(refusal)
    return out


def accepted(results: list[MappedRecord | RecordRefused]) -> list[MappedRecord]:
    assert all(isinstance(r, MappedRecord) for r in results), results
    return [r for r in results if isinstance(r, MappedRecord)]


def test_police_incident_concerns_each_person_with_their_role() -> None:
    results = accepted(map_all(Agency.POLICE, (EXAMPLES / "police.jsonl").read_bytes()))
    incident = results[0].events[0]
    assert results[0].record_ref == "WMP-2026-0418812"
    assert incident.event_type is EventType.POLICE_INCIDENT
    assert [s.role for s in incident.subjects] == [
        Role.VICTIM,
        Role.SUSPECT,
        Role.CHILD_PRESENT,
        Role.CHILD_PRESENT,
    ]
    assert incident.subjects[1].identifiers.pnc_id == "12/345678A"
    assert Category.DOMESTIC_ABUSE in incident.categories
    assert incident.payload.kind == "police.incident"
    assert incident.payload.children_present is True
    assert incident.payload.dash_risk == "medium"


def test_health_bundles_map_to_encounter_and_not_brought() -> None:
    ed = accepted(map_all(Agency.HEALTH, (EXAMPLES / "health-amina-ed.json").read_bytes()))[0]
    event = ed.events[0]
    assert (ed.record_ref, ed.version) == ("uhb-2026-10-31-004455", 1)
    assert event.event_type is EventType.HEALTH_ENCOUNTER
    assert event.subjects[0].identifiers.nhs_number == "4010232137"
    assert event.payload.kind == "health.encounter" and event.payload.encounter_class == "EMER"
    nb = accepted(
        map_all(Agency.HEALTH, (EXAMPLES / "health-maryam-not-brought.json").read_bytes())
    )[0].events[0]
    assert nb.event_type is EventType.HEALTH_NOT_BROUGHT
    assert [s.role for s in nb.subjects] == [Role.PATIENT, Role.RELATED_PERSON]
    assert nb.subjects[1].relationship == "mother"


def test_school_rows_map_by_record_type_with_dfe_absence_bands() -> None:
    rows = accepted(map_all(Agency.SCHOOLS, (EXAMPLES / "schools.csv").read_bytes()))
    types = [r.events[0].event_type for r in rows]
    assert types == [
        EventType.SCHOOL_ATTENDANCE,
        EventType.SCHOOL_EXCLUSION,
        EventType.SCHOOL_CONCERN,
        EventType.SCHOOL_ATTENDANCE,
    ]
    yusuf = rows[0].events[0].payload
    assert yusuf.kind == "schools.attendance_summary"
    assert yusuf.absence_band == "persistent"  # 87/112 = 77.7%
    assert Category.SCHOOL_ATTENDANCE in rows[0].events[0].categories
    maryam = rows[3].events[0]
    assert maryam.payload.kind == "schools.attendance_summary"
    assert maryam.payload.absence_band == "none"  # 104/112 = 92.9%
    assert maryam.categories == ()


def test_housing_event_concerns_the_whole_household() -> None:
    rows = accepted(map_all(Agency.HOUSING, (EXAMPLES / "housing.jsonl").read_bytes()))
    event = rows[0].events[0]
    assert [s.role for s in event.subjects] == [
        Role.LEAD_TENANT,
        Role.PARTNER,
        Role.CHILD,
        Role.CHILD,
    ]
    assert all(s.identifiers.tenancy_ref == "T-0087731" for s in event.subjects)
    assert Category.FINANCIAL_EXCLUSION in event.categories


def _police(**changes: object) -> bytes:
    record = json.loads((EXAMPLES / "police.jsonl").read_bytes().splitlines()[0])
    record.update(changes)
    return json.dumps(record).encode() + b"\n"


@pytest.mark.parametrize(
    ("changes", "field", "reason"),
    [
        (
            {"occurred_at": "2099-01-01T00:00:00Z", "reported_at": "2099-01-01T00:00:00Z"},
            "occurred_at",
            "future",
        ),
        ({"occurred_at": "1899-01-01T00:00:00Z"}, "occurred_at", "before 1900"),
        ({"occurred_at": "2026-10-30T22:10:00"}, "occurred_at", "timezone"),
        ({"reported_at": "2026-10-30T22:00:00Z"}, "reported_at", "before it occurred"),
        ({"type": "burglary"}, "type", "Input should be"),
        ({"version": 0}, "version", "greater than or equal to 1"),
        ({"version": "1"}, "version", "valid integer"),
        ({"persons": []}, "persons", "at least 1"),
        ({"children_present": "yes"}, "children_present", "valid boolean"),
        ({"unexpected": 1}, "unexpected", "Extra inputs"),
        ({"occurred_at": "2026-02-30T10:00:00Z"}, "occurred_at", "datetime"),
    ],
)
def test_bad_police_records_are_refused_with_field_and_reason(
    changes: dict[str, object], field: str, reason: str
) -> None:
    [result] = map_all(Agency.POLICE, _police(**changes))
    assert isinstance(result, RecordRefused)
    assert result.field == field
    assert reason.lower() in result.reason.lower()
    assert result.position == "file:1"


def test_a_refusal_never_echoes_the_record_content() -> None:
    [result] = map_all(Agency.POLICE, _police(type="Amina Khan 4010232137"))
    assert isinstance(result, RecordRefused)
    assert "Amina" not in str(result) and "4010232137" not in str(result)


def _bundle(path: str = "health-maryam-not-brought.json") -> dict[str, object]:
    data: dict[str, object] = json.loads((EXAMPLES / path).read_bytes())
    return data


def test_fhir_bundle_with_an_unresolved_reference_is_refused() -> None:
    bundle = _bundle()
    entries = bundle["entry"]
    assert isinstance(entries, list)
    entries[1]["resource"]["patient"]["reference"] = "urn:uuid:not-in-this-bundle"
    [result] = map_all(Agency.HEALTH, json.dumps(bundle).encode())
    assert isinstance(result, RecordRefused)
    assert "does not resolve" in result.reason
    assert "uhb-2026-11-03-000917" in result.position


def test_fhir_bundle_with_a_bad_nhs_number_is_refused() -> None:
    bundle = _bundle()
    entries = bundle["entry"]
    assert isinstance(entries, list)
    entries[0]["resource"]["identifier"][0]["value"] = "9434765910"
    [result] = map_all(Agency.HEALTH, json.dumps(bundle).encode())
    assert isinstance(result, RecordRefused) and "modulus-11" in result.reason


def test_invalid_fhir_is_refused_by_the_fhir_models() -> None:
    bundle = _bundle()
    entries = bundle["entry"]
    assert isinstance(entries, list)
    entries[0]["resource"]["birthDate"] = "23/09/2019"
    [result] = map_all(Agency.HEALTH, json.dumps(bundle).encode())
    assert isinstance(result, RecordRefused) and "FHIR R4" in result.reason


def test_fhir_bundle_with_two_patients_is_refused() -> None:
    bundle = _bundle()
    entries = bundle["entry"]
    assert isinstance(entries, list)
    second = json.loads(json.dumps(entries[0]))
    second["fullUrl"] = "urn:uuid:11111111-2222-3333-4444-555555555555"
    entries.append(second)
    [result] = map_all(Agency.HEALTH, json.dumps(bundle).encode())
    assert isinstance(result, RecordRefused) and "exactly one Patient" in result.reason


def test_fhir_bundles_one_per_line_are_each_read() -> None:
    lines = b"\n".join(
        json.dumps(_bundle(p)).encode()
        for p in ("health-amina-ed.json", "health-maryam-not-brought.json")
    )
    assert len(accepted(map_all(Agency.HEALTH, lines))) == 2


def test_school_row_with_a_bad_upn_check_letter_is_refused() -> None:
    csv = (EXAMPLES / "schools.csv").read_bytes().replace(b"Z330200019001", b"A330200019001", 1)
    results = map_all(Agency.SCHOOLS, csv)
    assert isinstance(results[0], RecordRefused) and results[0].field == "upn"
    assert all(isinstance(r, MappedRecord) for r in results[1:])


def test_school_row_using_a_column_its_type_does_not_have_is_refused() -> None:
    lines = (EXAMPLES / "schools.csv").read_bytes().splitlines()
    bad = lines[1].replace(b",112,87,,,", b",112,87,suspension,,")
    [result] = map_all(Agency.SCHOOLS, b"\n".join([lines[0], bad]))
    assert isinstance(result, RecordRefused)
    assert "exclusion_type must be empty" in result.reason
