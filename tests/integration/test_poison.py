"""Poison in every topic a service reads: each bad message is quarantined with its reason,
and every good message after it is still processed (none is skipped by a later commit).

The short version runs in CI (200 good records); ``EHX_FAULT_SCALE=50`` makes it 10,000.
"""

from __future__ import annotations

import base64
import io
import os
from datetime import UTC, datetime

import pytest
from aiokafka import AIOKafkaProducer
from sqlalchemy import Engine

from ehx.adapters import ADAPTERS
from ehx.adapters.ingest import Ingestor
from ehx.adapters.registry import RecordRegistry
from ehx.audit.ledger import AuditLedger
from ehx.broker.publishing import KafkaPublisher
from ehx.broker.settings import BrokerSettings
from ehx.broker.topics import Topic
from ehx.consent.decide import Outcome
from ehx.consent.store import ConsentStore
from ehx.schemas import Agency, KeyStore
from ehx.schemas.links import ReviewDecision
from ehx.schemas.vocabulary import Recipient
from tests.conftest import eventually
from tests.helpers import read_json
from tests.records import police_line

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

GOOD = 200 * int(os.environ.get("EHX_FAULT_SCALE", "1"))
#: Every topic a service consumes, and the stage that must refuse what is not for it.
POISONED = {
    Topic.raw(Agency.POLICE): {"intake", "linker"},
    Topic.LINKED.value: {"consent"},
    Topic.CONSENT.value: {"consent"},
    Topic.DECISIONS.value: {"audit-ledger"},
    Topic.share(Recipient.MASH): {"timeline"},
    Topic.AUDIT.value: {"audit-ledger"},
    Topic.LINKS.value: {"linker-reviews"},
}


async def test_a_bad_message_in_every_topic_is_quarantined_and_the_good_ones_all_arrive(
    pipeline: tuple[str, Engine, KeyStore],
) -> None:
    bootstrap, engine, keys = pipeline
    marker = os.urandom(4).hex()
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        for topic in POISONED:
            await producer.send_and_wait(topic, f"\x00poison {marker}".encode(), key=b"poison")
        # Well formed, but about people nobody has: refused, never retried forever.
        impossible = ReviewDecision(
            review_id=f"merge:{marker}",
            person_id="p99999998",
            candidate_id="p99999999",
            same_person=True,
            decided_by="sw-1",
            reason="a typo in a person id",
            decided_at=datetime.now(UTC),
        )
        await producer.send_and_wait(
            Topic.LINKS.value, impossible.model_dump_json().encode(), key=b"poison"
        )
    finally:
        await producer.stop()

    lines = b"".join(
        police_line(f"WMP-{marker}-{n}", f"WMP-P-{marker}-{n}", "Sam", "1990-01-01", "B1 1AA")
        for n in range(GOOD)
    )
    async with KafkaPublisher(bootstrap, BrokerSettings()) as publisher:
        summary = await Ingestor(
            ADAPTERS[Agency.POLICE], RecordRegistry(engine), keys.signer(Agency.POLICE), publisher
        ).ingest(io.BytesIO(lines), "good.jsonl")
    assert summary.accepted == GOOD

    store = ConsentStore(engine)
    ledger = AuditLedger(engine)
    await eventually(lambda: store.events_decided() >= GOOD, timeout=60 + GOOD / 10)
    # Every decision reached the ledger, past the poison on ehx.decisions.
    decisions = {(d["event_id"], d["recipient"]) for d in store.decisions()}

    def on_the_ledger() -> set[tuple[str, str]]:
        found = ledger.find(actions=[f"decision.{o.value}" for o in Outcome])
        return {(f.record.event_ids[0], f.record.agency) for f in found}

    await eventually(lambda: decisions <= on_the_ledger(), timeout=60 + GOOD / 10)
    await eventually(
        lambda: (
            len(ledger.find(actions=["record.accepted"])) >= 1
            and sum(len(f.record.event_ids) for f in ledger.find(actions=["record.accepted"]))
            >= GOOD
        ),
        timeout=60,
    )

    # Each poison message was refused, with its reason, by every stage that reads it.
    refused = await read_json(
        bootstrap,
        Topic.QUARANTINE.value,
        lambda b: b["original_b64"] and marker in _original(b),
        count=sum(len(stages) for stages in POISONED.values()) + 1,
        timeout=60,
    )
    by_stage = {(body["source"], body["stage"]) for _, body in refused}
    assert by_stage == {(t, s) for t, stages in POISONED.items() for s in stages}
    assert any("no person p99999998 or p99999999" in body["reason"] for _, body in refused)
    assert all(body["reason"] for _, body in refused)
    assert all(marker not in body["reason"] for _, body in refused)  # never echoed


def _original(body: dict[str, object]) -> str:
    return base64.b64decode(str(body["original_b64"])).decode("utf-8", "replace")
