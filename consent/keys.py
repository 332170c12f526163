"""Data keys and sealing: AES-GCM per recipient and person, destroyed to shred.

Each recipient has one current key per person it hears about. A sealed box is encrypted
under a fresh content key, which is wrapped under every data key allowed to open it; the
box's event, recipient and key ids are bound as associated data, so a box cannot be
moved to another event or recipient. Destroying a data key (crypto-shredding) makes
every box sealed under it unreadable; the next share under another basis gets a new
key version.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any, Protocol

import orjson
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import Engine, select, update

from database import data_keys
from schemas import ExchangeError
from schemas.views import SealedBox


class KeyDestroyed(ExchangeError):
    """A sealed box can no longer be opened: its keys were destroyed."""

    def __init__(self, key_ids: Sequence[str]) -> None:
        self.key_ids = tuple(key_ids)
        super().__init__(f"sealed under destroyed key(s): {', '.join(key_ids)}")


class KeyVault(Protocol):
    """Where data keys live (the database in production; a dict in unit tests)."""

    def current(self, recipient: str, person_id: str) -> tuple[str, bytes]: ...
    def get(self, key_id: str) -> bytes | None: ...
    def destroy(self, recipient: str, person_id: str, because: str) -> list[str]: ...


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _aad(context: str, key_id: str) -> bytes:
    return f"{context}|{key_id}".encode()


def seal(
    vault: KeyVault, recipient: str, person_ids: Iterable[str], context: str, data: Any
) -> SealedBox:
    """Seal ``data`` (JSON) so that any one of these people's keys for ``recipient`` opens it."""
    content_key = AESGCM.generate_key(bit_length=256)
    key_ids, wrapped = [], []
    for person_id in dict.fromkeys(person_ids):
        key_id, key = vault.current(recipient, person_id)
        nonce = os.urandom(12)
        sealed_key = AESGCM(key).encrypt(nonce, content_key, _aad(context, key_id))
        key_ids.append(key_id)
        wrapped.append(_b64(nonce + sealed_key))
    nonce = os.urandom(12)
    ciphertext = AESGCM(content_key).encrypt(nonce, orjson.dumps(data), context.encode())
    return SealedBox(
        key_ids=tuple(key_ids),
        wrapped_keys=tuple(wrapped),
        nonce=_b64(nonce),
        ciphertext=_b64(ciphertext),
    )


def open_box(vault: KeyVault, box: SealedBox, context: str) -> Any:
    """Open a sealed box with any of its keys still held; ``KeyDestroyed`` if none is."""
    for key_id, wrapped in zip(box.key_ids, box.wrapped_keys, strict=True):
        key = vault.get(key_id)
        if key is None:
            continue
        raw = base64.b64decode(wrapped)
        try:
            content_key = AESGCM(key).decrypt(raw[:12], raw[12:], _aad(context, key_id))
            plain = AESGCM(content_key).decrypt(
                base64.b64decode(box.nonce), base64.b64decode(box.ciphertext), context.encode()
            )
        except InvalidTag:
            continue
        return orjson.loads(plain)
    raise KeyDestroyed(box.key_ids)


class DataKeyStore:
    """Data keys in the database, cached in memory by the one process that seals."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._current: dict[tuple[str, str], tuple[str, bytes]] = {}
        self._by_id: dict[str, bytes | None] = {}

    def current(self, recipient: str, person_id: str) -> tuple[str, bytes]:
        cached = self._current.get((recipient, person_id))
        if cached is not None:
            return cached
        with self._engine.begin() as connection:
            row = connection.execute(
                select(data_keys.c.key_id, data_keys.c.key, data_keys.c.version)
                .where(data_keys.c.recipient == recipient, data_keys.c.person_id == person_id)
                .order_by(data_keys.c.version.desc())
                .limit(1)
            ).first()
            if row is not None and row.key is not None:
                found = (row.key_id, bytes(row.key))
            else:
                version = (row.version + 1) if row is not None else 1
                key_id = f"{recipient}:{person_id}:v{version}"
                key = AESGCM.generate_key(bit_length=256)
                connection.execute(
                    data_keys.insert().values(
                        key_id=key_id,
                        recipient=recipient,
                        person_id=person_id,
                        version=version,
                        key=key,
                        created_at=datetime.now(UTC),
                    )
                )
                found = (key_id, key)
        self._current[(recipient, person_id)] = found
        self._by_id[found[0]] = found[1]
        return found

    def get(self, key_id: str) -> bytes | None:
        if key_id in self._by_id:
            return self._by_id[key_id]
        with self._engine.connect() as connection:
            key = connection.execute(
                select(data_keys.c.key).where(data_keys.c.key_id == key_id)
            ).scalar_one_or_none()
        self._by_id[key_id] = bytes(key) if key is not None else None
        return self._by_id[key_id]

    def destroy(self, recipient: str, person_id: str, because: str) -> list[str]:
        """Destroy every key this recipient holds for this person; return their ids."""
        with self._engine.begin() as connection:
            ids = list(
                connection.execute(
                    select(data_keys.c.key_id).where(
                        data_keys.c.recipient == recipient,
                        data_keys.c.person_id == person_id,
                        data_keys.c.key.is_not(None),
                    )
                ).scalars()
            )
            if ids:
                connection.execute(
                    update(data_keys)
                    .where(data_keys.c.key_id.in_(ids))
                    .values(key=None, destroyed_at=datetime.now(UTC), destroyed_because=because)
                )
        self._current.pop((recipient, person_id), None)
        for key_id in ids:
            self._by_id[key_id] = None
        return ids
