"""The canonical event envelope: what every agency record becomes on ``ehx.raw.<agency>``."""

from __future__ import annotations

import os
import time
from datetime import date
from typing import Annotated, Any
from uuid import UUID

import orjson
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from ehx.schemas.payloads import Payload
from ehx.schemas.vocabulary import (
    OUTSIDE_ROLES,
    Agency,
    Category,
    EventType,
    Restriction,
    Role,
    Sensitivity,
)

#: Bumped only for a change a reader of the previous version cannot read; adding an
#: optional field is not such a change (see tests/schemas/test_compatibility.py).
SCHEMA_VERSION = 1


_clock = {"ms": 0, "seq": 0}


def new_event_id() -> UUID:
    """A unique, time-ordered event id (UUIDv7, RFC 9562): sorting ids sorts by creation.

    48 bits of Unix milliseconds, a 12-bit sequence, 62 random bits. Within one
    millisecond the sequence counts up, so this process's ids sort in creation order.
    """
    ms = time.time_ns() // 1_000_000
    if ms <= _clock["ms"]:
        ms, seq = _clock["ms"], _clock["seq"] + 1
        if seq > 0xFFF:  # more than 4,096 ids in one millisecond: borrow the next one
            ms, seq = ms + 1, 0
    else:
        seq = int.from_bytes(os.urandom(2)) & 0x7FF  # leave room to count up
    _clock["ms"], _clock["seq"] = ms, seq
    rand_b = int.from_bytes(os.urandom(8)) & ((1 << 62) - 1)
    return UUID(int=(ms << 80) | (0x7 << 76) | (seq << 64) | (0b10 << 62) | rand_b)


class _Model(BaseModel):
    # Readers ignore fields they do not know, so a newer writer may add optional fields
    # without breaking them; signatures are checked over the bytes as sent (see signing).
    model_config = ConfigDict(frozen=True, extra="ignore")


class Identifiers(_Model):
    """The identifiers an agency holds for a person; identity is resolved downstream."""

    nhs_number: str | None = None
    upn: str | None = None
    pnc_id: str | None = None
    agency_person_ref: str | None = None
    tenancy_ref: str | None = None


class Demographics(_Model):
    """Names and address as the agency spells them, never normalised at the edge."""

    given_name: str
    family_name: str
    date_of_birth: date | None = None
    address: str | None = None
    postcode: str | None = None
    #: Where the agency recorded a death: its date, or ``deceased`` alone if undated.
    date_of_death: date | None = None
    deceased: bool | None = None


class Subject(_Model):
    """One person an event is about, and that person's role in it.

    ``person_id`` and ``family_id`` are empty on raw events; the linker fills them.
    """

    identifiers: Identifiers
    demographics: Demographics
    role: Role
    relationship: str | None = None
    #: Set by the agency for a person whose address must never leave it (see Restriction).
    restriction: Restriction | None = None
    person_id: str | None = None
    family_id: str | None = None
    match_confidence: float | None = None


class Source(_Model):
    """Where the record came from: agency, its own system, reference and version."""

    agency: Agency
    system: str
    record_ref: str
    record_version: Annotated[int, Field(ge=1)]
    #: The sending organisation's code in the directory (its kind is the agency): the
    #: school's URN, the NHS trust's ODS code. Empty where the record names none.
    organisation: str | None = None


class Signature(_Model):
    """The source agency's Ed25519 signature.

    ``ed25519-merkle-sha256`` (what ehx writes): the signature covers the root of a hash
    tree over a batch of events, and ``proof`` leads from this event's canonical bytes to
    that root. ``ed25519``: the signature covers the canonical bytes directly.
    """

    key_id: str
    algorithm: str = "ed25519-merkle-sha256"
    value: str
    proof: tuple[str, ...] = ()


class TraceContext(_Model):
    """W3C trace context, carried so a trace spans adapter to timeline."""

    traceparent: str
    tracestate: str | None = None


class CanonicalEvent(_Model):
    """One thing that happened, about one or more people, as one agency recorded it."""

    schema_version: int = SCHEMA_VERSION
    event_id: UUID = Field(default_factory=new_event_id)
    source: Source
    event_type: EventType
    occurred_at: AwareDatetime
    recorded_at: AwareDatetime
    subjects: Annotated[tuple[Subject, ...], Field(min_length=1)]
    categories: tuple[Category, ...]
    sensitivity: Sensitivity
    payload: Payload
    trace: TraceContext | None = None
    signature: Signature | None = None

    @model_validator(mode="after")
    def _payload_matches_type(self) -> CanonicalEvent:
        if self.payload.kind != self.event_type.value:
            raise ValueError(
                f"payload kind {self.payload.kind!r} does not match event_type {self.event_type!r}"
            )
        return self

    def canonical_bytes(self) -> bytes:
        """The bytes a signature covers: everything but the signature and trace context.

        Sorted keys, no whitespace, UTF-8: the same event always gives the same bytes.
        Trace context is transport metadata and may be rewritten hop by hop.
        """
        return signed_bytes(self.model_dump(mode="json"))

    def to_bytes(self) -> bytes:
        """The event as it goes on the wire (JSON, signature included)."""
        return self.model_dump_json(exclude_none=False).encode()

    @classmethod
    def from_bytes(cls, data: bytes) -> CanonicalEvent:
        """Parse an event from the wire; raises ``pydantic.ValidationError`` if malformed."""
        return cls.model_validate_json(data)


def family_key(event: CanonicalEvent) -> str:
    """The partition key: the family of the first subject who is family, not a bystander.

    One family, one partition, in order: the linker keys ``ehx.linked`` by it, and every
    later stage names an event's family by it.
    """
    for subject in event.subjects:
        if subject.role.value not in OUTSIDE_ROLES and subject.family_id:
            return subject.family_id
    return event.subjects[0].family_id or str(event.event_id)


def signed_bytes(body: dict[str, Any]) -> bytes:
    """Canonical bytes of an event given as a JSON object, as its signature covers them.

    Working from the object as sent (not from a parsed model) lets a reader on an older
    schema version verify an event that carries fields it does not know. What the linker
    adds to each subject (person and family ids, match confidence) is left out, so the
    agency's signature still holds on the linked event.
    """
    signed = {k: v for k, v in body.items() if k not in ("signature", "trace")}
    subjects = signed.get("subjects")
    if isinstance(subjects, list):
        signed["subjects"] = [
            {k: v for k, v in subject.items() if k not in LINKER_FIELDS}
            if isinstance(subject, dict)
            else subject
            for subject in subjects
        ]
    return canonical_json(signed)


#: Subject fields the linker fills in after the agency signed the event.
LINKER_FIELDS = frozenset({"person_id", "family_id", "match_confidence"})


def canonical_json(body: Any) -> bytes:
    """Deterministic JSON bytes for hashing and signing: sorted keys, compact, UTF-8."""
    return orjson.dumps(body, option=orjson.OPT_SORT_KEYS)
