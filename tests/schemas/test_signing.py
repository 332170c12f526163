"""Downstream consumers can tell a genuine agency event from a forged or altered one."""

from __future__ import annotations

import io
import stat
from datetime import UTC, datetime

import pytest
from pydantic import SecretStr

from adapters import ADAPTERS
from schemas import Agency, CanonicalEvent, KeyMissing, KeyStore, SignatureInvalid, Source
from tests.helpers import EXAMPLES

NOW = datetime(2026, 11, 23, 12, tzinfo=UTC)


def police_event() -> CanonicalEvent:
    [frame, _] = ADAPTERS[Agency.POLICE].frame(
        io.BytesIO((EXAMPLES / "police.jsonl").read_bytes()), "p"
    )
    return ADAPTERS[Agency.POLICE].map(frame, NOW).events[0]


def test_a_signed_event_verifies_after_a_round_trip_on_the_wire(keys: KeyStore) -> None:
    signed = keys.signer(Agency.POLICE).sign(police_event())
    keys.verifier().verify(CanonicalEvent.from_bytes(signed.to_bytes()))


def test_an_altered_event_fails_verification(keys: KeyStore) -> None:
    signed = keys.signer(Agency.POLICE).sign(police_event())
    altered = signed.model_copy(update={"occurred_at": datetime(2026, 1, 1, tzinfo=UTC)})
    with pytest.raises(SignatureInvalid, match="does not match"):
        keys.verifier().verify(altered)


def test_an_unsigned_event_fails_verification(keys: KeyStore) -> None:
    with pytest.raises(SignatureInvalid, match="unsigned"):
        keys.verifier().verify(police_event())


def test_an_event_claiming_another_agencys_identity_fails(keys: KeyStore) -> None:
    event = police_event()
    signed = keys.signer(Agency.POLICE).sign(event)
    claimed = signed.model_copy(
        update={
            "source": Source(agency=Agency.HEALTH, system="x", record_ref="r", record_version=1)
        }
    )
    with pytest.raises(SignatureInvalid, match="not health's key"):
        keys.verifier().verify(claimed)


def test_a_key_cannot_sign_for_another_agency(keys: KeyStore) -> None:
    with pytest.raises(SignatureInvalid, match="cannot sign"):
        keys.signer(Agency.HEALTH).sign(police_event())


def test_trace_context_is_not_covered_by_the_signature(keys: KeyStore) -> None:
    from schemas import TraceContext

    signed = keys.signer(Agency.POLICE).sign(police_event())
    hop = signed.model_copy(
        update={"trace": TraceContext(traceparent="00-" + "a" * 32 + "-" + "b" * 16 + "-01")}
    )
    keys.verifier().verify(hop)


def test_private_keys_are_owner_only_and_encrypted_with_a_passphrase(tmp_path: object) -> None:
    from pathlib import Path

    assert isinstance(tmp_path, Path)
    store = KeyStore(tmp_path / "k", SecretStr("correct horse"))
    assert store.init() == list(Agency)
    assert store.init() == []  # re-running keeps the keys
    key_file = tmp_path / "k" / "police.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert b"ENCRYPTED" in key_file.read_bytes()
    with pytest.raises(TypeError):
        KeyStore(tmp_path / "k").private_key(Agency.POLICE)  # no passphrase given
    store.signer(Agency.POLICE)


def test_a_missing_key_says_to_run_keys_init(tmp_path: object) -> None:
    from pathlib import Path

    assert isinstance(tmp_path, Path)
    with pytest.raises(KeyMissing, match="ehx keys init"):
        KeyStore(tmp_path / "none").signer(Agency.POLICE)
