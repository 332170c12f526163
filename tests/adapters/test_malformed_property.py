"""Property: a thousand malformed records per format are each refused with a reason.

Every generated record is malformed by construction (a required field removed, a value
of the wrong shape, an unknown field, an impossible date, a broken identifier, bytes
that are not a record). None may raise, none may be published, each must be refused.
"""

from __future__ import annotations

import asyncio
import io
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ehx.adapters import ADAPTERS
from ehx.adapters.checks import nhs_number_problem, upn_problem
from ehx.adapters.ingest import UNEXPECTED, Ingestor
from ehx.adapters.registry import RecordRegistry
from ehx.adapters.schools import HEADER
from ehx.broker.topics import Topic
from ehx.database import migrate, open_engine
from ehx.schemas import Agency, KeyStore
from tests.helpers import EXAMPLES, RecordingPublisher

NOW = datetime(2026, 11, 23, 12, tzinfo=UTC)
EXAMPLES_PER_FORMAT = 1000
PROPERTY = settings(
    max_examples=EXAMPLES_PER_FORMAT,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


class Harness:
    """One Ingestor per agency on a throwaway database, publishing to a recorder."""

    def __init__(self, root: Path) -> None:
        self.engine = open_engine(f"sqlite:///{root / 'p.db'}")
        migrate(self.engine)
        self.keys = KeyStore(root / "keys")
        self.keys.init()
        self.refused = 0

    def ingest(self, agency: Agency, data: bytes) -> RecordingPublisher:
        publisher = RecordingPublisher()
        ingestor = Ingestor(
            ADAPTERS[agency], RecordRegistry(self.engine), self.keys.signer(agency), publisher
        )
        summary = asyncio.run(ingestor.ingest(io.BytesIO(data), "generated"))
        assert summary.accepted == 0, "a malformed record was accepted"
        assert summary.refused, "a malformed record was neither accepted nor refused"
        assert all(r.reason for r in summary.refused)
        # Refused for what is wrong with the record, not for a fault in the adapter.
        assert not any(r.reason.startswith(UNEXPECTED) for r in summary.refused)
        assert publisher.on(Topic.raw(agency)) == []
        assert len(publisher.on(Topic.QUARANTINE.value)) == len(summary.refused)
        self.refused += len(summary.refused)
        return publisher


@pytest.fixture(scope="module")
def harness(tmp_path_factory: pytest.TempPathFactory) -> Harness:
    return Harness(tmp_path_factory.mktemp("property"))


def _json_record(path: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((EXAMPLES / path).read_bytes().splitlines()[0])
    return data


POLICE = _json_record("police.jsonl")
HOUSING = _json_record("housing.jsonl")
garbage_text = st.text(min_size=0, max_size=40)
odd_shape = st.dictionaries(st.text(max_size=5), st.integers(), min_size=1, max_size=2).map(
    lambda d: {"unexpected": d}
)


@st.composite
def malformed_json_record(draw: st.DrawFn, base: dict[str, Any], date_field: str) -> bytes:
    record = json.loads(json.dumps(base))
    how = draw(st.sampled_from(["drop", "reshape", "extra", "date", "bytes", "nested"]))
    if how == "drop":
        del record[draw(st.sampled_from(sorted(record)))]
    elif how == "reshape":
        record[draw(st.sampled_from(sorted(record)))] = draw(odd_shape)
    elif how == "extra":
        record["x_" + draw(st.text(min_size=1, max_size=8))] = draw(garbage_text)
    elif how == "date":
        year = draw(st.one_of(st.integers(2100, 9999), st.integers(1, 1899)))
        record[date_field] = f"{year:04d}-01-01" + ("T00:00:00Z" if "_at" in date_field else "")
    elif how == "nested":
        people = "persons" if "persons" in record else "household"
        person = record[people][0]
        del person[draw(st.sampled_from(sorted(person)))]
    else:
        noise = draw(st.binary(min_size=1, max_size=200))
        return b"\xff" + noise + b"\n"  # never valid UTF-8
    return json.dumps(record).encode() + b"\n"


@PROPERTY
@given(line=malformed_json_record(POLICE, "occurred_at"))
def test_malformed_police_records_are_refused(harness: Harness, line: bytes) -> None:
    harness.ingest(Agency.POLICE, line)


@PROPERTY
@given(line=malformed_json_record(HOUSING, "event_date"))
def test_malformed_housing_records_are_refused(harness: Harness, line: bytes) -> None:
    harness.ingest(Agency.HOUSING, line)


SCHOOL_ROWS = (EXAMPLES / "schools.csv").read_text().splitlines()[1:]


@st.composite
def malformed_school_row(draw: st.DrawFn) -> bytes:
    import csv

    row = next(csv.reader([draw(st.sampled_from(SCHOOL_ROWS))]))
    cells = dict(zip(HEADER, row, strict=True))
    how = draw(st.sampled_from(["upn", "type", "date", "columns", "version", "bytes", "urn"]))
    if how == "upn":
        upn = draw(st.text(alphabet="ABCDEFGHJKLMNPQRTUVWXYZ0123456789", min_size=0, max_size=14))
        cells["upn"] = (
            upn if upn_problem(upn) else "A" + upn[1:] if upn[:1] != "A" else "B" + upn[1:]
        )
        if not upn_problem(cells["upn"]):
            cells["upn"] = "bad"
    elif how == "type":
        cells["record_type"] = draw(
            garbage_text.filter(
                lambda t: (
                    t.strip()
                    not in {
                        "attendance_summary",
                        "exclusion",
                        "safeguarding_concern",
                        "missing_education",
                    }
                )
            )
        )
    elif how == "date":
        cells["record_date"] = draw(st.sampled_from(["2026-02-30", "31/10/2026", "2999-01-01", ""]))
    elif how == "urn":
        cells["school_urn"] = draw(
            st.text(max_size=8).filter(lambda t: not (len(t) == 6 and t.isdigit()))
        )
    elif how == "version":
        cells["version"] = draw(st.sampled_from(["0", "-1", "one", "", "1.5"]))
    elif how == "columns":
        values = list(cells.values())
        cut = draw(st.integers(1, len(values) - 1))
        values = values[:cut] if draw(st.booleans()) else [*values, *values[:cut]]
        return _csv([values])
    else:
        return _csv([list(cells.values())]).replace(b"Khan", b"Kh\xe4n")
    return _csv([list(cells.values())])


def _csv(rows: list[list[str]]) -> bytes:
    import csv

    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(HEADER)
    writer.writerows(rows)
    return out.getvalue().encode("utf-8", "surrogateescape")


@PROPERTY
@given(data=malformed_school_row())
def test_malformed_school_rows_are_refused(harness: Harness, data: bytes) -> None:
    harness.ingest(Agency.SCHOOLS, data)


BUNDLE: dict[str, Any] = json.loads((EXAMPLES / "health-maryam-not-brought.json").read_bytes())


@st.composite
def malformed_bundle(draw: st.DrawFn) -> bytes:
    bundle = json.loads(json.dumps(BUNDLE))
    entries = bundle["entry"]
    how = draw(
        st.sampled_from(
            [
                "no_patient",
                "nhs",
                "reference",
                "resource_type",
                "status",
                "version",
                "future",
                "birth",
                "bytes",
            ]
        )
    )
    if how == "no_patient":
        del entries[0]
    elif how == "nhs":
        digits = draw(
            st.text(alphabet="0123456789", min_size=10, max_size=10).filter(
                lambda d: nhs_number_problem(d) is not None
            )
        )
        entries[0]["resource"]["identifier"][0]["value"] = digits
    elif how == "reference":
        entries[2]["resource"]["participant"][0]["actor"]["reference"] = (
            "urn:uuid:" + draw(st.uuids()).hex
        )
    elif how == "resource_type":
        entries[draw(st.integers(0, 2))]["resource"]["resourceType"] = draw(
            st.sampled_from(["Patient2", "Observation", "", "bundle"])
        )
    elif how == "status":
        entries[2]["resource"]["status"] = draw(
            st.sampled_from(["booked", "fulfilled", "cancelled"])
        )
    elif how == "version":
        bundle["meta"]["versionId"] = draw(st.sampled_from(["0", "", "v1", "-2"]))
    elif how == "future":
        entries[2]["resource"]["start"] = f"{draw(st.integers(2100, 9999))}-01-01T00:00:00Z"
    elif how == "birth":
        entries[0]["resource"]["birthDate"] = draw(
            st.sampled_from(["2019-13-01", "23/09/2019", "2999-01-01"])
        )
    else:
        return b"{" + draw(st.binary(max_size=100)) + b"\n"
    return json.dumps(bundle).encode()


@PROPERTY
@given(data=malformed_bundle())
def test_malformed_fhir_bundles_are_refused(harness: Harness, data: bytes) -> None:
    harness.ingest(Agency.HEALTH, data)


def test_the_properties_ran_at_least_a_thousand_refusals_per_format(harness: Harness) -> None:
    """Runs last in this module: four formats, at least a thousand refusals each."""
    assert harness.refused >= 4 * EXAMPLES_PER_FORMAT
