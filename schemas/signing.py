"""Agency signing keys: create them, sign canonical events, verify signatures downstream."""

from __future__ import annotations

import base64
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from schemas.envelope import CanonicalEvent, Signature, signed_bytes
from schemas.errors import KeyMissing, SignatureInvalid
from schemas.vocabulary import Agency


class KeySettings(BaseSettings):
    """Where agency keys live; ``EHX_KEY_PASSPHRASE`` encrypts private keys at rest."""

    model_config = SettingsConfigDict(env_prefix="EHX_", frozen=True, extra="ignore")

    data_dir: Path = Path(".ehx")
    key_dir: Path | None = None
    key_passphrase: SecretStr | None = None

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

    def _private_path(self, agency: Agency) -> Path:
        return self.directory / f"{agency.value}.key"

    def _public_path(self, agency: Agency) -> Path:
        return self.directory / f"{agency.value}.pub"

    def init(self, agencies: tuple[Agency, ...] = tuple(Agency)) -> list[Agency]:
        """Create a key pair for each agency that has none; return those created.

        Existing keys are kept: re-running is safe and never rotates a key by accident.
        """
        self.directory.mkdir(parents=True, exist_ok=True)
        os.chmod(self.directory, 0o700)
        created = []
        for agency in agencies:
            if self._private_path(agency).exists():
                continue
            private = Ed25519PrivateKey.generate()
            encryption: serialization.KeySerializationEncryption = (
                serialization.BestAvailableEncryption(self.passphrase.get_secret_value().encode())
                if self.passphrase
                else serialization.NoEncryption()
            )
            pem = private.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
            )
            path = self._private_path(agency)
            # Create with owner-only permissions from the start, not chmod afterwards.
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as out:
                out.write(pem)
            self._public_path(agency).write_bytes(
                private.public_key().public_bytes(
                    serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
                )
            )
            created.append(agency)
        return created

    def private_key(self, agency: Agency) -> Ed25519PrivateKey:
        path = self._private_path(agency)
        if not path.exists():
            raise KeyMissing(agency.value, str(self.directory))
        password = self.passphrase.get_secret_value().encode() if self.passphrase else None
        key = serialization.load_pem_private_key(path.read_bytes(), password=password)
        if not isinstance(key, Ed25519PrivateKey):
            raise KeyMissing(agency.value, str(self.directory))
        return key

    def public_key(self, agency: Agency) -> Ed25519PublicKey:
        path = self._public_path(agency)
        if not path.exists():
            raise KeyMissing(agency.value, str(self.directory))
        key = serialization.load_pem_public_key(path.read_bytes())
        if not isinstance(key, Ed25519PublicKey):
            raise KeyMissing(agency.value, str(self.directory))
        return key

    def signer(self, agency: Agency) -> EventSigner:
        return EventSigner(agency, self.private_key(agency))

    def verifier(self) -> SignatureVerifier:
        keys = {}
        for agency in Agency:
            if self._public_path(agency).exists():
                keys[agency] = self.public_key(agency)
        return SignatureVerifier(keys)


class EventSigner:
    """Signs one agency's events; it refuses to sign for any other agency."""

    def __init__(self, agency: Agency, private_key: Ed25519PrivateKey) -> None:
        self.agency = agency
        self._key = private_key
        self.key_id = key_id_for(agency, private_key.public_key())

    def sign(self, event: CanonicalEvent) -> CanonicalEvent:
        if event.source.agency is not self.agency:
            raise SignatureInvalid(
                str(event.event_id), f"{self.agency} key cannot sign for {event.source.agency}"
            )
        value = base64.b64encode(self._key.sign(event.canonical_bytes())).decode()
        return event.model_copy(update={"signature": Signature(key_id=self.key_id, value=value)})


class SignatureVerifier:
    """Checks that an event was signed by the agency it claims to come from."""

    def __init__(self, public_keys: dict[Agency, Ed25519PublicKey]) -> None:
        self._keys = {agency: (key_id_for(agency, key), key) for agency, key in public_keys.items()}

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
        try:
            covered = (
                signed_bytes(json.loads(sent)) if sent is not None else event.canonical_bytes()
            )
            key.verify(base64.b64decode(event.signature.value), covered)
        except (InvalidSignature, ValueError) as exc:
            raise SignatureInvalid(event_id, "signature does not match the event") from exc
