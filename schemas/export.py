"""JSON Schema export of the canonical event, for agencies and for compatibility checks."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ehx.schemas.envelope import SCHEMA_VERSION, CanonicalEvent


def canonical_event_schema() -> dict[str, Any]:
    """The JSON Schema of the canonical event at the current schema version."""
    schema = CanonicalEvent.model_json_schema(mode="serialization")
    schema["$id"] = f"https://ehx.example/schemas/v{SCHEMA_VERSION}/canonical-event.json"
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    return schema


def export_json_schemas(directory: Path) -> list[Path]:
    """Write every schema this project publishes into ``directory``; return the files."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"canonical-event.v{SCHEMA_VERSION}.json"
    path.write_text(json.dumps(canonical_event_schema(), indent=2, sort_keys=True) + "\n")
    return [path]
