"""The intake rule: a consumed record is a verified event or a quarantine entry saying why."""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import UTC, datetime

from adapters import ADAPTERS
from intake.service import check
from schemas import Agency, CanonicalEvent, KeyStore
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
    verdict = check(Record("ehx.raw.housing", event.to_bytes()), keys.verifier(), NOW)
    assert verdict.quarantine is None and verdict.event is not None
    assert verdict.event.event_id == str(event.event_id)
    assert (verdict.event.topic, verdict.event.offset) == ("ehx.raw.housing", 41)


def test_bytes_that_are_not_an_event_are_quarantined_with_position(keys: KeyStore) -> None:
    verdict = check(Record("ehx.raw.police", b"{}"), keys.verifier(), NOW)
    assert verdict.event is None and verdict.quarantine is not None
    assert verdict.quarantine.reason.startswith("not a canonical event: source: Field required")
    assert verdict.quarantine.position == "ehx.raw.police[0]@41"
    assert verdict.quarantine.original() == b"{}"


def test_an_event_on_another_agencys_topic_is_quarantined(keys: KeyStore) -> None:
    event = housing_event(keys)
    verdict = check(Record("ehx.raw.police", event.to_bytes()), keys.verifier(), NOW)
    assert verdict.quarantine is not None
    assert verdict.quarantine.reason == "event claims agency housing but arrived on ehx.raw.police"
