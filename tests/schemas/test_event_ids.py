"""Event ids are UUIDv7: unique, and sorting them sorts events by when they were made."""

import time
import uuid

from ehx.schemas import new_event_id


def test_event_ids_are_unique_version_7_and_in_creation_order() -> None:
    ids = [new_event_id() for _ in range(20_000)]
    assert len(set(ids)) == len(ids)
    assert ids == sorted(ids)
    assert {(i.version, i.variant) for i in ids} == {(7, uuid.RFC_4122)}


def test_an_event_id_carries_the_time_it_was_made() -> None:
    before = time.time_ns() // 1_000_000
    made = new_event_id().int >> 80
    after = time.time_ns() // 1_000_000
    assert before <= made <= after + 1
