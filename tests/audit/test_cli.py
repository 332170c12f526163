"""``ehx audit verify`` and ``checkpoints --export`` as an auditor runs them."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import update
from typer.testing import CliRunner

from ehx.audit.checkpoints import sign
from ehx.audit.ledger import AuditLedger
from ehx.cli import app
from ehx.database import audit_ledger, migrate, open_engine
from ehx.schemas import KeySettings, KeyStore
from ehx.schemas.audit import AuditRecord


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in ("EHX_DATABASE_URL", "EHX_KEY_DIR", "EHX_KEY_PASSPHRASE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("EHX_DATA_DIR", str(tmp_path))
    engine = open_engine()
    migrate(engine)
    ledger = AuditLedger(engine)
    key = KeyStore.from_settings(KeySettings()).ledger_private_key()
    start = datetime(2026, 11, 2, tzinfo=UTC)
    for batch in range(3):
        ledger.append(
            [
                AuditRecord(
                    action="timeline.read",
                    actor=f"sw-{n}",
                    role="mash_screener",
                    agency="mash",
                    purpose="screening",
                    subject_ids=(f"p{n:08d}",),
                    at=start + timedelta(minutes=n),
                )
                for n in range(batch * 10, batch * 10 + 10)
            ]
        )
        head = ledger.head()
        assert head is not None
        ledger.add_checkpoint(sign(key, head.seq, head.hash, start))
    engine.dispose()
    return tmp_path


def test_verify_says_the_ledger_holds_then_names_the_altered_entry(data_dir: Path) -> None:
    runner = CliRunner()
    held = runner.invoke(app, ["audit", "verify"])
    assert held.exit_code == 0, held.output
    assert "holds" in held.output and "30 entries" in held.output

    kept = data_dir / "kept.json"
    exported = runner.invoke(app, ["audit", "checkpoints", "--export", str(kept)])
    assert exported.exit_code == 0 and json.loads(kept.read_text())["checkpoints"]

    engine = open_engine()
    with engine.begin() as connection:
        connection.execute(
            update(audit_ledger)
            .where(audit_ledger.c.seq == 17)
            .values(body=audit_ledger.c.body + b" ")
        )
    engine.dispose()
    broken = runner.invoke(app, ["audit", "verify", "--against", str(kept), "--json"])
    assert broken.exit_code == 1
    verdict = json.loads(broken.output)
    assert not verdict["ok"] and verdict["problems"][0].startswith("entry 17: altered")
