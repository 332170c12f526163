"""A schema change must not break a reader of any published schema version."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime
from pathlib import Path

import jsonschema
import pytest

from ehx.adapters import ADAPTERS
from ehx.schemas import Agency, CanonicalEvent, KeyStore, export_json_schemas
from ehx.schemas.export import canonical_event_schema
from tests.helpers import EXAMPLES

PUBLISHED = Path(__file__).resolve().parents[2] / "schemas" / "published"
VERSIONS = sorted(p for p in PUBLISHED.iterdir() if p.is_dir())
NOW = datetime(2026, 11, 23, 12, tzinfo=UTC)
FILES = {
    Agency.POLICE: ["police.jsonl"],
    Agency.HEALTH: ["health-amina-ed.json", "health-maryam-not-brought.json"],
    Agency.SCHOOLS: ["schools.csv"],
    Agency.HOUSING: ["housing.jsonl"],
}


def current_events(keys: KeyStore) -> list[dict[str, object]]:
    events = []
    for agency, names in FILES.items():
        for name in names:
            for frame in ADAPTERS[agency].frame(io.BytesIO((EXAMPLES / name).read_bytes()), name):
                for event in ADAPTERS[agency].map(frame, NOW).events:
                    events.append(json.loads(keys.signer(agency).sign(event).to_bytes()))
    return events


def test_there_is_a_published_version() -> None:
    assert [p.name for p in VERSIONS] == ["v1"]


@pytest.mark.parametrize("version", VERSIONS, ids=lambda p: p.name)
def test_todays_code_reads_events_written_by_each_published_version(version: Path) -> None:
    lines = (version / "examples.jsonl").read_bytes().splitlines()
    assert len(lines) >= 10
    for line in lines:
        CanonicalEvent.from_bytes(line)


@pytest.mark.parametrize("version", VERSIONS, ids=lambda p: p.name)
def test_todays_events_validate_against_each_published_schema(
    version: Path, keys: KeyStore
) -> None:
    schema = json.loads((version / "canonical-event.json").read_text())
    validator = jsonschema.Draft202012Validator(schema)
    for event in current_events(keys):
        errors = sorted(validator.iter_errors(event), key=lambda e: list(e.path))
        assert not errors, f"{event['event_type']}: {errors[0].message} at {list(errors[0].path)}"


def test_the_compatibility_check_catches_a_breaking_change(keys: KeyStore) -> None:
    """Dropping a field a published reader requires must fail the check above."""
    schema = json.loads((VERSIONS[-1] / "canonical-event.json").read_text())
    event = current_events(keys)[0]
    del event["occurred_at"]
    assert list(jsonschema.Draft202012Validator(schema).iter_errors(event))


def test_schemas_export_writes_the_current_schema(tmp_path: Path) -> None:
    [path] = export_json_schemas(tmp_path)
    assert json.loads(path.read_text()) == json.loads(json.dumps(canonical_event_schema()))
