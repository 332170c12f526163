"""Ingest publishes each record once, supersedes by version, quarantines every refusal."""

from __future__ import annotations

import io
import json

import pytest
from sqlalchemy import Engine

from ehx.adapters import ADAPTERS
from ehx.adapters.ingest import Ingestor
from ehx.adapters.registry import RecordRegistry
from ehx.broker.topics import Topic
from ehx.schemas import Agency, CanonicalEvent, KeyStore
from ehx.schemas.quarantine import QuarantineRecord
from tests.helpers import EXAMPLES, RecordingPublisher

POLICE = (EXAMPLES / "police.jsonl").read_bytes()


def ingestor(engine: Engine, keys: KeyStore, publisher: RecordingPublisher) -> Ingestor:
    return Ingestor(
        ADAPTERS[Agency.POLICE], RecordRegistry(engine), keys.signer(Agency.POLICE), publisher
    )


def first_police(**changes: object) -> bytes:
    record = json.loads(POLICE.splitlines()[0])
    record.update(changes)
    return json.dumps(record).encode() + b"\n"


async def test_the_same_record_sent_twice_publishes_once(engine: Engine, keys: KeyStore) -> None:
    publisher = RecordingPublisher()
    first = await ingestor(engine, keys, publisher).ingest(io.BytesIO(POLICE), "p.jsonl")
    # A new Ingestor on the same database stands for a restart of the process.
    again = await ingestor(engine, keys, publisher).ingest(io.BytesIO(POLICE), "p.jsonl")
    assert (first.accepted, first.events_published) == (2, 2)
    assert (again.accepted, again.duplicates, again.events_published) == (0, 2, 0)
    assert len(publisher.on(Topic.raw(Agency.POLICE))) == 2


async def test_many_bodies_share_the_callers_registry_thread_and_it_outlives_them(
    engine: Engine, keys: KeyStore
) -> None:
    """The HTTP API hands every request one registry thread: each body's records are
    still told apart from the last, and no ingest shuts the thread down."""
    from concurrent.futures import ThreadPoolExecutor

    publisher = RecordingPublisher()
    with ThreadPoolExecutor(max_workers=1) as thread:
        run = Ingestor(
            ADAPTERS[Agency.POLICE],
            RecordRegistry(engine),
            keys.signer(Agency.POLICE),
            publisher,
            registry_thread=thread,
        )
        lines = POLICE.splitlines(keepends=True)
        first = await run.ingest(io.BytesIO(lines[0]), "request")
        again = await run.ingest(io.BytesIO(POLICE), "request")
        assert thread.submit(lambda: "still running").result() == "still running"
    assert (first.accepted, again.accepted, again.duplicates) == (1, 1, 1)
    assert len(publisher.on(Topic.raw(Agency.POLICE))) == 2


async def test_whitespace_and_key_order_do_not_make_a_new_record(
    engine: Engine, keys: KeyStore
) -> None:
    publisher = RecordingPublisher()
    await ingestor(engine, keys, publisher).ingest(io.BytesIO(first_police()), "p.jsonl")
    reordered = json.dumps(dict(reversed(json.loads(first_police()).items())), indent=1)
    again = await ingestor(engine, keys, publisher).ingest(
        io.BytesIO(reordered.replace("\n", " ").encode()), "p.jsonl"
    )
    assert again.duplicates == 1 and again.events_published == 0


async def test_a_higher_version_supersedes_and_a_lower_is_refused_as_stale(
    engine: Engine, keys: KeyStore
) -> None:
    publisher = RecordingPublisher()
    run = ingestor(engine, keys, publisher)
    await run.ingest(io.BytesIO(first_police(version=2)), "p.jsonl")
    newer = await run.ingest(io.BytesIO(first_police(version=3, summary="corrected")), "p.jsonl")
    older = await run.ingest(io.BytesIO(first_police(version=1)), "p.jsonl")
    assert newer.superseded == 1 and newer.events_published == 1
    assert older.events_published == 0
    [stale] = older.refused
    assert stale.field == "version" and "stale" in stale.reason
    versions = [
        CanonicalEvent.from_bytes(m.value).source.record_version
        for m in publisher.on(Topic.raw(Agency.POLICE))
    ]
    assert versions == [2, 3]


async def test_same_version_with_different_content_is_refused(
    engine: Engine, keys: KeyStore
) -> None:
    publisher = RecordingPublisher()
    run = ingestor(engine, keys, publisher)
    await run.ingest(io.BytesIO(first_police()), "p.jsonl")
    changed = await run.ingest(io.BytesIO(first_police(summary="edited")), "p.jsonl")
    assert changed.events_published == 0
    assert "different content" in changed.refused[0].reason


async def test_a_crash_before_publishing_republishes_the_same_event_ids(
    engine: Engine, keys: KeyStore
) -> None:
    failing = RecordingPublisher(fail_times=1)
    with pytest.raises(ConnectionError):
        await ingestor(engine, keys, failing).ingest(io.BytesIO(POLICE), "p.jsonl")
    publisher = RecordingPublisher()
    resumed = await ingestor(engine, keys, publisher).ingest(io.BytesIO(POLICE), "p.jsonl")
    assert resumed.resumed == 2 and resumed.events_published == 2
    again = await ingestor(engine, keys, publisher).ingest(io.BytesIO(POLICE), "p.jsonl")
    assert again.duplicates == 2
    assert len(publisher.on(Topic.raw(Agency.POLICE))) == 2


async def test_refusals_go_to_quarantine_with_original_bytes_and_position(
    sqlite_engine: Engine, keys: KeyStore
) -> None:
    bad = first_police(type="burglary")
    data = POLICE.splitlines()[0] + b"\n" + bad + b"{not json\n" + POLICE.splitlines()[1] + b"\n"
    publisher = RecordingPublisher()
    summary = await ingestor(sqlite_engine, keys, publisher).ingest(io.BytesIO(data), "p.jsonl")
    assert summary.accepted == 2 and len(summary.refused) == 2
    quarantined = [
        QuarantineRecord.model_validate_json(m.value) for m in publisher.on(Topic.QUARANTINE.value)
    ]
    assert [q.position for q in quarantined] == ["p.jsonl:2", "p.jsonl:3"]
    assert quarantined[0].original() == bad.strip()
    assert quarantined[0].field == "type" and quarantined[0].stage == "adapter.police"


async def test_published_events_carry_a_valid_signature(
    sqlite_engine: Engine, keys: KeyStore
) -> None:
    publisher = RecordingPublisher()
    await ingestor(sqlite_engine, keys, publisher).ingest(io.BytesIO(POLICE), "p.jsonl")
    verifier = keys.verifier()
    for message in publisher.on(Topic.raw(Agency.POLICE)):
        verifier.verify(CanonicalEvent.from_bytes(message.value))
        assert message.key == CanonicalEvent.from_bytes(message.value).source.record_ref.encode()


async def test_a_fault_in_an_adapter_quarantines_that_record_and_keeps_going(
    sqlite_engine: Engine, keys: KeyStore, caplog: pytest.LogCaptureFixture
) -> None:
    from datetime import datetime

    from ehx.adapters import MappedRecord, PoliceAdapter
    from ehx.adapters.framing import RawRecord
    from ehx.adapters.ingest import UNEXPECTED

    class Faulty(PoliceAdapter):
        def map(self, record: RawRecord, now: datetime) -> MappedRecord:
            if record.position.endswith(":1"):
                raise KeyError("Amina Khan")  # an exception quoting the record
            return super().map(record, now)

    publisher = RecordingPublisher()
    ingestor = Ingestor(
        Faulty(), RecordRegistry(sqlite_engine), keys.signer(Agency.POLICE), publisher
    )
    summary = await ingestor.ingest(io.BytesIO(POLICE), "p.jsonl")
    assert summary.accepted == 1
    [refusal] = summary.refused
    assert refusal.reason.startswith(UNEXPECTED) and refusal.position == "p.jsonl:1"
    assert len(publisher.on(Topic.QUARANTINE.value)) == 1
    assert "Amina" not in caplog.text and "KeyError" in caplog.text


@pytest.mark.parametrize("batch", [500, 1])
async def test_a_record_repeated_within_one_file_publishes_once(
    sqlite_engine: Engine, keys: KeyStore, monkeypatch: pytest.MonkeyPatch, batch: int
) -> None:
    """In one batch, and (batch size one) across batches still on the wire."""
    from ehx.adapters import ingest as ingest_module

    monkeypatch.setattr(ingest_module, "BATCH", batch)
    publisher = RecordingPublisher()
    summary = await ingestor(sqlite_engine, keys, publisher).ingest(
        io.BytesIO(first_police() * 3), "p.jsonl"
    )
    assert (summary.accepted, summary.duplicates, summary.events_published) == (1, 2, 1)
    assert len(publisher.on(Topic.raw(Agency.POLICE))) == 1
