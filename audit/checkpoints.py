"""Signed checkpoints: the ledger's head, signed with the ledger key, every N entries or T seconds.

A checkpoint says "entry ``seq`` has hash ``head_hash``", so it vouches for every entry
up to ``seq``. Exported (``ehx audit checkpoints export``), a partner agency keeps a copy;
later, ``ehx audit verify --against FILE`` proves the ledger it is shown extends the one
it kept, even against someone who can rewrite the database and re-sign.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import orjson
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from pydantic import AwareDatetime, BaseModel, ConfigDict


class Checkpoint(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    seq: int
    head_hash: str
    at: AwareDatetime
    key_id: str
    signature: str

    def signed_bytes(self) -> bytes:
        return _signed(self.seq, self.head_hash, _instant(self.at), self.key_id)


def _signed(seq: int, head_hash: str, at: str, key_id: str) -> bytes:
    body = {"seq": seq, "head_hash": head_hash, "at": at, "key_id": key_id}
    return orjson.dumps(body, option=orjson.OPT_SORT_KEYS)


def _instant(at: datetime) -> str:
    """In UTC, so the bytes signed survive a database that stores instants without a zone."""
    return at.astimezone(UTC).isoformat()


def key_id(public_key: Ed25519PublicKey) -> str:
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return "ledger:" + hashlib.sha256(raw).hexdigest()[:16]


def sign(private_key: Ed25519PrivateKey, seq: int, head_hash: str, at: AwareDatetime) -> Checkpoint:
    kid = key_id(private_key.public_key())
    signature = private_key.sign(_signed(seq, head_hash, _instant(at), kid))
    return Checkpoint(
        seq=seq,
        head_hash=head_hash,
        at=at,
        key_id=kid,
        signature=base64.b64encode(signature).decode(),
    )


def signature_holds(public_key: Ed25519PublicKey, checkpoint: Checkpoint) -> bool:
    if checkpoint.key_id != key_id(public_key):
        return False
    try:
        public_key.verify(base64.b64decode(checkpoint.signature), checkpoint.signed_bytes())
    except (InvalidSignature, ValueError):
        return False
    return True


class CheckpointExport(BaseModel):
    """What a partner keeps: the ledger's public key and the checkpoints it has seen."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    format: str = "ehx-audit-checkpoints/1"
    public_key_pem: str
    checkpoints: tuple[Checkpoint, ...]

    @classmethod
    def of(
        cls, public_key: Ed25519PublicKey, checkpoints: Sequence[Checkpoint]
    ) -> CheckpointExport:
        pem = public_key.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ).decode()
        return cls(public_key_pem=pem, checkpoints=tuple(checkpoints))

    def public_key(self) -> Ed25519PublicKey:
        key = serialization.load_pem_public_key(self.public_key_pem.encode())
        if not isinstance(key, Ed25519PublicKey):
            raise ValueError("the export's public key is not an Ed25519 key")
        return key


@dataclass(frozen=True)
class Due:
    """When the next checkpoint is due: every ``entries`` entries or ``seconds`` seconds."""

    entries: int = 1000
    seconds: float = 10.0

    def now(self, since_entries: int, since_seconds: float) -> bool:
        return since_entries > 0 and (
            since_entries >= self.entries or since_seconds >= self.seconds
        )
