"""The permission table in the docs is the one the gate enforces."""

from __future__ import annotations

from pathlib import Path

from ehx.api.permissions import table

SECURITY = Path(__file__).resolve().parents[2] / "docs" / "security.md"


def test_docs_security_shows_the_table_the_code_enforces() -> None:
    assert table() in SECURITY.read_text(), (
        "docs/security.md's HTTP API table differs from api/permissions.py; "
        "paste the output of: python -c 'from ehx.api.permissions import table; print(table())'"
    )
