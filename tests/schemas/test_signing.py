"""Downstream consumers can tell a genuine agency event from a forged or altered one."""

from __future__ import annotations

import io
import stat
from datetime import UTC, datetime

import pytest
from pydantic import SecretStr

from ehx.adapters import ADAPTERS
from ehx.schemas import Agency, CanonicalEvent, KeyMissing, KeyStore, SignatureInvalid, Source
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
    from ehx.schemas import TraceContext

    signed = keys.signer(Agency.POLICE).sign(police_event())
    hop = signed.model_copy(
        update={"trace": TraceContext(traceparent="00-" + "a" * 32 + "-" + "b" * 16 + "-01")}
    )
    keys.verifier().verify(hop)


def test_private_keys_are_owner_only_and_encrypted_with_a_passphrase(tmp_path: object) -> None:
    from pathlib import Path

    assert isinstance(tmp_path, Path)
    store = KeyStore(tmp_path / "k", SecretStr("correct horse"))
    assert store.init() == [*(agency.value for agency in Agency), "ledger"]
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


def test_each_event_of_a_batch_verifies_under_one_signature_and_an_altered_one_fails(
    keys: KeyStore,
) -> None:
    import uuid

    events = [police_event().model_copy(update={"event_id": uuid.uuid4()}) for _ in range(7)]
    signed = keys.signer(Agency.POLICE).sign_batch(events)
    assert len({e.signature.value for e in signed if e.signature}) == 1
    verifier = keys.verifier()
    for event in signed:
        verifier.verify(CanonicalEvent.from_bytes(event.to_bytes()))
    altered = signed[3].model_copy(update={"occurred_at": datetime(2026, 1, 1, tzinfo=UTC)})
    with pytest.raises(SignatureInvalid, match="does not match"):
        verifier.verify(altered)
    assert signed[3].signature is not None and signed[4].signature is not None
    borrowed = signed[3].model_copy(
        update={
            "signature": signed[3].signature.model_copy(update={"proof": signed[4].signature.proof})
        }
    )
    with pytest.raises(SignatureInvalid):
        verifier.verify(borrowed)


def test_wire_bytes_from_the_hot_path_verify_as_sent(keys: KeyStore) -> None:
    [wire] = keys.signer(Agency.POLICE).sign_batch_to_wire([police_event()])
    keys.verifier().verify(CanonicalEvent.from_bytes(wire), wire)


def test_single_event_ed25519_signatures_of_schema_v1_still_verify(keys: KeyStore) -> None:
    import base64

    from ehx.schemas import Signature
    from ehx.schemas.signing import key_id_for

    event = police_event()
    private = keys.private_key(Agency.POLICE)
    legacy = event.model_copy(
        update={
            "signature": Signature(
                key_id=key_id_for(Agency.POLICE, private.public_key()),
                algorithm="ed25519",
                value=base64.b64encode(private.sign(event.canonical_bytes())).decode(),
            )
        }
    )
    keys.verifier().verify(legacy)


def test_the_agency_signature_still_holds_after_the_linker_fills_in_ids(keys: KeyStore) -> None:
    signed = keys.signer(Agency.POLICE).sign(police_event())
    linked = signed.model_copy(
        update={
            "subjects": tuple(
                s.model_copy(
                    update={"person_id": f"p{i}", "family_id": "f1", "match_confidence": 0.99}
                )
                for i, s in enumerate(signed.subjects)
            )
        }
    )
    keys.verifier().verify(CanonicalEvent.from_bytes(linked.to_bytes()), linked.to_bytes())
    renamed = linked.model_copy(
        update={
            "subjects": (
                linked.subjects[0].model_copy(
                    update={"demographics": linked.subjects[1].demographics}
                ),
                *linked.subjects[1:],
            )
        }
    )
    with pytest.raises(SignatureInvalid):
        keys.verifier().verify(renamed)
