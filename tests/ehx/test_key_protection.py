"""Finding 19 of the security probe: private keys written unencrypted, with no warning."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from ehx.cli import app


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in ("EHX_KEY_PASSPHRASE", "EHX_KEY_DIR", "EHX_SECURITY_PROTOCOL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("EHX_DATA_DIR", str(tmp_path))
    return tmp_path


def test_keys_made_without_a_passphrase_come_with_a_warning(data_dir: Path) -> None:
    made = CliRunner().invoke(app, ["keys", "init"])
    assert made.exit_code == 0
    assert "the private keys are not encrypted" in made.output
    assert "EHX_KEY_PASSPHRASE" in made.output


def test_keys_made_with_a_passphrase_are_encrypted_and_say_nothing(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EHX_KEY_PASSPHRASE", "correct horse battery staple")
    made = CliRunner().invoke(app, ["keys", "init"])
    assert made.exit_code == 0 and "not encrypted" not in made.output
    assert b"ENCRYPTED" in (data_dir / "keys" / "police.key").read_bytes()


@pytest.mark.parametrize("passphrase", [None, ""])
@pytest.mark.parametrize("command", [["serve"], ["services", "--bootstrap", "kafka-1:9093"]])
def test_a_real_deployment_will_not_start_with_unencrypted_keys(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch, command: list[str], passphrase: str | None
) -> None:
    monkeypatch.setenv("EHX_SECURITY_PROTOCOL", "SASL_SSL")
    if passphrase is not None:  # set, but empty: it encrypts nothing
        monkeypatch.setenv("EHX_KEY_PASSPHRASE", passphrase)
    refused = CliRunner().invoke(app, command)
    assert refused.exit_code == 2
    assert "EHX_KEY_PASSPHRASE is not set" in refused.output
