"""Agency signing keys: create them, sign canonical events, verify signatures downstream."""

from __future__ import annotations

import base64
import hashlib
import os
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from pydantic import SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from ehx.schemas import merkle
from ehx.schemas.envelope import CanonicalEvent, Signature, canonical_json, signed_bytes
from ehx.schemas.errors import KeyMissing, SignatureInvalid
from ehx.schemas.vocabulary import Agency


class KeySettings(BaseSettings):
    """Where agency keys live; ``EHX_KEY_PASSPHRASE`` encrypts private keys at rest."""

    model_config = SettingsConfigDict(env_prefix="EHX_", frozen=True, extra="ignore")

    data_dir: Path = Path(".ehx")
    key_dir: Path | None = None
    key_passphrase: SecretStr | None = None

    @field_validator("key_passphrase")
    @classmethod
    def _empty_is_none(cls, value: SecretStr | None) -> SecretStr | None:
        """``EHX_KEY_PASSPHRASE=`` (empty) encrypts nothing: it is no passphrase."""
        return value if value is not None and value.get_secret_value() else None

    @property
    def resolved_key_dir(self) -> Path:
        return self.key_dir if self.key_dir is not None else self.data_dir / "keys"


def key_id_for(agency: Agency, public_key: Ed25519PublicKey) -> str:
    """A key id names the agency and a fingerprint of its public key."""
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return f"{agency.value}:{hashlib.sha256(raw).hexdigest()[:16]}"


@dataclass(frozen=True)
class KeyStore:
    """Ed25519 key pairs, one per agency, as PEM files in one directory."""

    directory: Path
    passphrase: SecretStr | None = None

    @classmethod
    def from_settings(cls, settings: KeySettings | None = None) -> KeyStore:
        settings = settings or KeySettings()
        return cls(settings.resolved_key_dir, settings.key_passphrase)

    #: The audit ledger's checkpoint key lives beside the agencies' keys.
    LEDGER = "ledger"

    def _private_path(self, name: str) -> Path:
        return self.directory / f"{name}.key"

    def _public_path(self, name: str) -> Path:
        return self.directory / f"{name}.pub"

    def init(self, agencies: tuple[Agency, ...] = tuple(Agency)) -> list[str]:
        """Create a key pair for each agency (and the ledger) that has none; return those created.

        Existing keys are kept: re-running is safe and never rotates a key by accident.
        """
        self.directory.mkdir(parents=True, exist_ok=True)
        os.chmod(self.directory, 0o700)
        created = []
        for name in [*(agency.value for agency in agencies), self.LEDGER]:
            if self._private_path(name).exists():
                continue
            self._create(name)
            created.append(name)
        return created

    def _create(self, name: str) -> None:
        private = Ed25519PrivateKey.generate()
        encryption: serialization.KeySerializationEncryption = (
            serialization.BestAvailableEncryption(self.passphrase.get_secret_value().encode())
            if self.passphrase
            else serialization.NoEncryption()
        )
        pem = private.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
        )
        # Create with owner-only permissions from the start, not chmod afterwards.
        fd = os.open(self._private_path(name), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(pem)
        self._public_path(name).write_bytes(
            private.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        )

    def _private(self, name: str) -> Ed25519PrivateKey:
        path = self._private_path(name)
        if not path.exists():
            raise KeyMissing(name, str(self.directory))
        password = self.passphrase.get_secret_value().encode() if self.passphrase else None
        key = serialization.load_pem_private_key(path.read_bytes(), password=password)
        if not isinstance(key, Ed25519PrivateKey):
            raise KeyMissing(name, str(self.directory))
        return key

    def _public(self, name: str) -> Ed25519PublicKey:
        path = self._public_path(name)
        if not path.exists():
            raise KeyMissing(name, str(self.directory))
        key = serialization.load_pem_public_key(path.read_bytes())
        if not isinstance(key, Ed25519PublicKey):
            raise KeyMissing(name, str(self.directory))
        return key

    def private_key(self, agency: Agency) -> Ed25519PrivateKey:
        return self._private(agency.value)

    def public_key(self, agency: Agency) -> Ed25519PublicKey:
        return self._public(agency.value)

    def ledger_private_key(self) -> Ed25519PrivateKey:
        """The key that signs audit checkpoints (created by ``init``, or on first use)."""
        if not self._private_path(self.LEDGER).exists():
            self.directory.mkdir(parents=True, exist_ok=True)
            self._create(self.LEDGER)
        return self._private(self.LEDGER)

    def ledger_public_key(self) -> Ed25519PublicKey:
        return self._public(self.LEDGER)

    def signer(self, agency: Agency) -> EventSigner:
        return EventSigner(agency, self.private_key(agency))

    def verifier(self) -> SignatureVerifier:
        keys = {}
        for agency in Agency:
            if self._public_path(agency.value).exists():
                keys[agency] = self.public_key(agency)
        return SignatureVerifier(keys)


MERKLE = "ed25519-merkle-sha256"
SINGLE = "ed25519"


class EventSigner:
    """Signs one agency's events, a batch under one signature; never for another agency."""

    def __init__(self, agency: Agency, private_key: Ed25519PrivateKey) -> None:
        self.agency = agency
        self._key = private_key
        self.key_id = key_id_for(agency, private_key.public_key())

    def sign(self, event: CanonicalEvent) -> CanonicalEvent:
        return self.sign_batch([event])[0]

    def sign_batch(self, events: Sequence[CanonicalEvent]) -> list[CanonicalEvent]:
        """The events with their signatures: one Ed25519 signature over the batch's tree."""
        bodies = [event.model_dump(mode="json") for event in events]
        signatures = self._signatures(events, bodies)
        return [
            event.model_copy(update={"signature": Signature(**signature)})
            for event, signature in zip(events, signatures, strict=True)
        ]

    def sign_batch_to_wire(self, events: Sequence[CanonicalEvent]) -> list[bytes]:
        """Signed events as wire bytes, serialising each event once (the ingest hot path)."""
        bodies = [event.model_dump(mode="json") for event in events]
        signatures = self._signatures(events, bodies)
        return [
            canonical_json({**body, "signature": signature})
            for body, signature in zip(bodies, signatures, strict=True)
        ]

    def _signatures(
        self, events: Sequence[CanonicalEvent], bodies: list[dict[str, Any]]
    ) -> list[dict[str, Any]]:
        if not events:
            return []
        for event in events:
            if event.source.agency is not self.agency:
                raise SignatureInvalid(
                    str(event.event_id), f"{self.agency} key cannot sign for {event.source.agency}"
                )
        root, proofs = merkle.build([merkle.leaf_hash(signed_bytes(body)) for body in bodies])
        value = base64.b64encode(self._key.sign(root)).decode()
        return [
            {"key_id": self.key_id, "algorithm": MERKLE, "value": value, "proof": list(proof)}
            for proof in proofs
        ]


class SignatureVerifier:
    """Checks that an event was signed by the agency it claims to come from."""

    #: Batch roots already verified; a batch of events costs one Ed25519 check.
    CACHE_SIZE = 4096

    def __init__(self, public_keys: dict[Agency, Ed25519PublicKey]) -> None:
        self._keys = {agency: (key_id_for(agency, key), key) for agency, key in public_keys.items()}
        self._verified: OrderedDict[tuple[str, str, bytes], None] = OrderedDict()

    def verify(self, event: CanonicalEvent, sent: bytes | None = None) -> None:
        """Return quietly if the signature holds; raise ``SignatureInvalid`` otherwise.

        Pass ``sent``, the event's bytes as they arrived, whenever you have them: the
        signature is then checked over exactly what the agency signed, including fields
        this reader's schema version does not know.
        """
        event_id = str(event.event_id)
        if event.signature is None:
            raise SignatureInvalid(event_id, "unsigned event")
        known = self._keys.get(event.source.agency)
        if known is None:
            raise SignatureInvalid(event_id, f"no public key for {event.source.agency}")
        key_id, key = known
        if event.signature.key_id != key_id:
            raise SignatureInvalid(
                event_id,
                f"signed with key {event.signature.key_id!r}, not {event.source.agency}'s key",
            )
        signature = event.signature
        try:
            covered = (
                signed_bytes(orjson.loads(sent)) if sent is not None else event.canonical_bytes()
            )
            if signature.algorithm == SINGLE:
                key.verify(base64.b64decode(signature.value), covered)
                return
            if signature.algorithm != MERKLE:
                raise SignatureInvalid(
                    event_id, f"unknown signature algorithm {signature.algorithm!r}"
                )
            root = merkle.root_from(merkle.leaf_hash(covered), signature.proof)
            seen = (key_id, signature.value, root)
            if seen in self._verified:
                self._verified.move_to_end(seen)
                return
            key.verify(base64.b64decode(signature.value), root)
            self._verified[seen] = None
            if len(self._verified) > self.CACHE_SIZE:
                self._verified.popitem(last=False)
        except (InvalidSignature, ValueError) as exc:
            raise SignatureInvalid(event_id, "signature does not match the event") from exc
