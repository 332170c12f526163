"""Intake's verification (the router reads with a ``Verification``, record by record): a
consumed record is a verified event, kept with where it arrived, or a quarantine entry
saying why."""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass
from datetime import UTC, datetime

from ehx.adapters import ADAPTERS
from ehx.broker.consuming import verified_event
from ehx.intake.service import GROUP, received
from ehx.schemas import Agency, CanonicalEvent, KeyStore
from ehx.schemas.quarantine import QuarantineRecord
from tests.helpers import EXAMPLES

NOW = datetime(2026, 11, 23, 12, tzinfo=UTC)


@dataclass
class Record:
    topic: str
    value: bytes
    partition: int = 0
    offset: int = 41


def housing_event(keys: KeyStore) -> CanonicalEvent:
    frame = next(
        ADAPTERS[Agency.HOUSING].frame(io.BytesIO((EXAMPLES / "housing.jsonl").read_bytes()), "h")
    )
    return keys.signer(Agency.HOUSING).sign(ADAPTERS[Agency.HOUSING].map(frame, NOW).events[0])


def test_a_signed_event_on_its_agencys_topic_is_kept(keys: KeyStore) -> None:
    event = housing_event(keys)
    record = Record("ehx.raw.housing", event.to_bytes())
    checked = verified_event(record, keys.verifier(), GROUP, NOW, raw=True)
    assert isinstance(checked, CanonicalEvent)
    kept = received(checked, record, NOW)
    assert kept.event_id == str(event.event_id)
    assert (kept.topic, kept.offset) == ("ehx.raw.housing", 41)
    # A hash of what arrived, not the content: nothing here outlives a destroyed key.
    assert kept.sha256 == hashlib.sha256(event.to_bytes()).hexdigest()
    assert "body" not in kept.__dict__


def test_bytes_that_are_not_an_event_are_quarantined_with_position(keys: KeyStore) -> None:
    refused = verified_event(Record("ehx.raw.police", b"{}"), keys.verifier(), GROUP, NOW, raw=True)
    assert isinstance(refused, QuarantineRecord)
    assert refused.reason.startswith("not a canonical event: source: Field required")
    assert refused.position == "ehx.raw.police[0]@41"
    assert refused.original() == b"{}"


def test_an_event_on_another_agencys_topic_is_quarantined(keys: KeyStore) -> None:
    event = housing_event(keys)
    record = Record("ehx.raw.police", event.to_bytes())
    refused = verified_event(record, keys.verifier(), GROUP, NOW, raw=True)
    assert isinstance(refused, QuarantineRecord)
    assert refused.reason == "event claims agency housing but arrived on ehx.raw.police"
