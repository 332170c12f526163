"""The order of a batch's side effects, owned by one place: publish, then store, then commit.

A handler ends in ``BatchCommit.commit``; FastStream commits the batch's offsets only if
the handler returns. So what a user would notice: nothing is stored that was not first
published, and a batch whose output could not be published is neither stored nor
committed (it is read again).
"""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from faststream import Context
from faststream.kafka import KafkaBroker, TestKafkaBroker
from faststream.kafka.annotations import KafkaMessage
from pydantic import BaseModel
from sqlalchemy.exc import OperationalError

from ehx.broker import telemetry
from ehx.broker.commit import BatchCommit, Store
from ehx.broker.consuming import (
    BATCH,
    Parsing,
    ReadBatch,
    batch_records,
    batch_subscriber,
    service_router,
)
from ehx.broker.publishing import OutboundMessage
from ehx.schemas.quarantine import QuarantineRecord
from tests.helpers import RecordingPublisher

OUT = [OutboundMessage("ehx.quarantine", b"k", b"v")]


class Note(BaseModel):
    event_id: str


class Journal(RecordingPublisher):
    """A publisher that writes what happens, in order, into a shared journal."""

    def __init__(self, journal: list[str], fail_times: int = 0) -> None:
        super().__init__(fail_times)
        self.journal = journal

    async def publish(self, messages: Sequence[OutboundMessage]) -> None:
        await super().publish(messages)
        self.journal.append(f"published {len(messages)}")


async def test_outputs_are_published_before_anything_is_stored() -> None:
    journal: list[str] = []
    commit = BatchCommit(Journal(journal))
    await commit.commit(
        OUT,
        Store(lambda: journal.append("stored first"), "first"),
        Store(lambda: journal.append("stored second"), "second"),
    )
    assert journal == ["published 1", "stored first", "stored second"]


async def test_a_batch_whose_output_cannot_be_published_is_not_stored() -> None:
    journal: list[str] = []
    commit = BatchCommit(Journal(journal, fail_times=1))
    with pytest.raises(ConnectionError):
        await commit.commit(OUT, Store(lambda: journal.append("stored"), "views"))
    assert journal == []  # the handler fails, so FastStream does not commit: read again


async def test_a_database_away_for_a_moment_is_waited_out_unless_the_write_says_not_to() -> None:
    attempts: list[int] = []

    def blip() -> None:
        attempts.append(1)
        if len(attempts) == 1:
            raise OperationalError("INSERT", {}, ConnectionError("server closed the connection"))

    await BatchCommit(RecordingPublisher()).commit(OUT, Store(blip, "timeline views"))
    assert len(attempts) == 2  # written again once the database answered

    attempts.clear()
    with pytest.raises(OperationalError):
        await BatchCommit(RecordingPublisher()).commit(
            OUT, Store(blip, "audit ledger", retry=False)
        )
    assert len(attempts) == 1


async def test_each_services_router_counts_its_batches_before_the_handler_runs(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    journal: list[str] = []
    monkeypatch.setattr(
        telemetry,
        "record_batch",
        lambda stage, records: journal.append(f"{stage} counted {len(records)}"),
    )
    router = service_router("intake")

    @batch_subscriber(router, "ehx.test.metrics", group_id="t", session_timeout_ms=6_000)
    async def on_batch(message: KafkaMessage) -> None:
        journal.append(f"handled {len(batch_records(message.raw_message))}")

    broker = KafkaBroker()
    broker.include_router(router)  # as ehx.services includes each service's router
    async with TestKafkaBroker(broker) as test_broker:
        await test_broker.publish_batch(b"a", b"b", b"c", topic="ehx.test.metrics")
    # (FastStream's test broker hands a batch over in its own shape; the real one as a
    # tuple of records: either way the middleware counts what the handler gets.)
    handled = journal[-1].removeprefix("handled ")
    assert journal == [f"intake counted {handled}", f"handled {handled}"]


async def test_a_services_router_hands_the_handler_what_read_and_quarantines_the_rest() -> None:
    # What the timeline and the ledger read: messages the services wrote, parsed, not signed.
    seen: list[ReadBatch[Note]] = []
    good = Note(event_id="e-1").model_dump_json().encode()
    router = service_router("timeline", Parsing(Note.model_validate_json, "a note"))

    @batch_subscriber(router, "ehx.test.reading", group_id="t", session_timeout_ms=6_000)
    async def on_batch(message: KafkaMessage, batch: ReadBatch[Note] = Context(BATCH)) -> None:
        seen.append(batch)

    broker = KafkaBroker()
    broker.include_router(router)
    async with TestKafkaBroker(broker) as test_broker:
        await test_broker.publish_batch(good, b"{not json", topic="ehx.test.reading")
    [batch] = seen
    assert [note for note, _ in batch.items] == [Note(event_id="e-1")]
    quarantine, audit = batch.refused  # for the handler to publish with its output
    assert quarantine.topic == "ehx.quarantine" and audit.topic == "ehx.audit"
    entry = QuarantineRecord.model_validate_json(quarantine.value)
    assert entry.position.startswith("ehx.test.reading[0]@")  # where it was, for a replay
    assert entry.reason.startswith("not a note: Invalid JSON")
