"""Adapters → linker → consent service on the real broker: decisions, views, consent, withdrawal.

Runs on the session's real broker and on SQLite and PostgreSQL.
"""

from __future__ import annotations

import io
import json
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer
from sqlalchemy import Engine

from ehx.adapters import ADAPTERS
from ehx.broker.publishing import KafkaPublisher
from ehx.broker.settings import BrokerSettings
from ehx.broker.topics import Topic
from ehx.consent import ConsentRecord, ConsentState, Giver, Purpose, SubjectKind
from ehx.consent.service import consent_message
from ehx.consent.store import ConsentStore
from ehx.schemas import Agency, Category, KeyStore, Role
from ehx.schemas.vocabulary import Addressee, Recipient
from tests.conftest import eventually
from tests.flows import ingest_khans, quarantined
from tests.helpers import EXAMPLES, read_json

pytestmark = [pytest.mark.kafka, pytest.mark.slow]


async def messages_about(
    bootstrap: str, topic: str, wanted: set[str], count: int | None
) -> list[dict[str, Any]]:
    """Messages on a topic about the wanted events, until ``count`` of them have come."""
    found = await read_json(bootstrap, topic, lambda b: b.get("event_id") in wanted, count=count)
    return [body | {"_key": key.decode()} for key, body in found]


async def test_every_event_is_decided_for_every_recipient_and_consent_changes_the_views(
    pipeline: tuple[str, Engine, KeyStore],
) -> None:
    bootstrap, engine, keys = pipeline
    ids = await ingest_khans(bootstrap, engine, keys)
    assert len(ids) == 10
    store = ConsentStore(engine)
    await eventually(lambda: ids <= store.decided(sorted(ids)))

    # Every event decided for every kind of recipient (the source agency excepted): the
    # hubs and the police, and each school, trust or landlord serving someone in it (the
    # kind itself for people none serves yet); each step's decisions about an event
    # together in one message. First decisions only: another test's consent for family
    # f00000001 on the shared consent topic may have this test's service decide again.
    found = await read_json(
        bootstrap,
        Topic.DECISIONS.value,
        lambda b: any(d.get("event_id") in ids and d["revision"] == 1 for d in b["decisions"]),
    )
    decisions = [
        d | {"_key": key.decode()}
        for key, body in found
        for d in body["decisions"]
        if d["revision"] == 1
    ]
    assert {d["event_id"] for d in decisions} == ids
    assert all(len({d["event_id"] for d in body["decisions"]}) == 1 for _, body in found)
    kinds = {(d["event_id"], Addressee.parse(d["recipient"]).recipient.value) for d in decisions}
    assert kinds == {
        (d["event_id"], r.value)
        for d in decisions
        for r in Recipient
        if r.value != d["source_agency"]
    }
    # Each child's school by its URN (this test's trusts and landlords are not named).
    organisations = {
        f"{d['recipient']}:{d['organisation']}" for d in decisions if d["organisation"]
    }
    assert organisations == {"schools:103512", "schools:103377"}
    assert all(d["_key"] == d["family_id"] for d in decisions)

    # Operation Encompass: each school hears about its pupil, not the narrative.
    # Its first view (another test's consent change may have it sealed again since).
    told = [
        m
        for m in await messages_about(bootstrap, Topic.share(Recipient.SCHOOLS), ids, count=None)
        if m["revision"] == 1 and m["recipient"].startswith("school:")
    ]
    assert sorted(m["recipient"] for m in told) == ["school:103377", "school:103512"]
    for school in told:
        assert school["basis"]["outcome"] == "notify"
        assert [s["role"] for s in school["subjects"]] == [Role.CHILD_PRESENT.value]
        assert school["details"] is None and "summary" not in school["fields"]
    family = told[0]["family_id"]
    mother = next(
        d["shared"][0]
        for d in decisions
        if d["recipient"] == "early_help"
        and d["source_agency"] == "health"
        and d["outcome"] == "indicator"
        and len(d["shared"]) == 1
    )

    # The mother consents for the family: the early help hub gets details, not just indicators.
    now = datetime.now(UTC)
    granted = ConsentRecord(
        state=ConsentState.GRANTED,
        subject_kind=SubjectKind.FAMILY,
        subject_id=family,
        given_by=mother,
        giver=Giver.PARENT,
        recorded_by="ew-0042",
        recorded_by_agency=Recipient.EARLY_HELP,
        recipients=(Recipient.EARLY_HELP, Recipient.SCHOOLS),
        categories=tuple(Category),
        purpose=Purpose.EARLY_HELP_ASSESSMENT,
        valid_from=now,
        recorded_at=now,
    )
    async with KafkaPublisher(bootstrap, BrokerSettings()) as publisher:
        await publisher.publish([consent_message(granted)])
        await eventually(lambda: store.record(granted.record_id) == granted)
        shared = await messages_about(bootstrap, Topic.share(Recipient.EARLY_HELP), ids, count=16)
        allowed = [m for m in shared if m["basis"]["outcome"] == "allow"]
        # Views allowed under her consent. (The session's ehx.consent is shared by every
        # test, and each test's Khans are family f00000001: another test's consent may
        # allow some of these events too, so "all" would depend on the tests' order.)
        assert any(str(granted.consent_id) in m["basis"]["consent_ids"] for m in allowed)

        # She withdraws it: the school's views under it are retracted; Encompass remains.
        withdrawn = granted.withdraw("ew-0042", datetime.now(UTC))
        await publisher.publish([consent_message(withdrawn)])
        await eventually(lambda: store.record(granted.record_id) == withdrawn)
    assert store.keys_destroyed() > 0
    school_msgs = await messages_about(bootstrap, Topic.share(Recipient.SCHOOLS), ids, count=None)
    retractions = [m for m in school_msgs if m["kind"] == "retraction"]
    assert any("withdrawn" in m["reason"] for m in retractions)
    latest = {m["decision_id"]: m for m in sorted(school_msgs, key=lambda m: m["revision"])}
    kept = [m for m in latest.values() if m["kind"] == "share"]
    # Operation Encompass remains, each child's school told of its own pupil.
    assert kept and {m["basis"]["outcome"] for m in kept} == {"notify"}
    assert {m["recipient"] for m in kept} == {"school:103512", "school:103377"}


async def test_an_unverifiable_linked_event_is_quarantined_not_decided(
    pipeline: tuple[str, Engine, KeyStore],
) -> None:
    bootstrap, engine, keys = pipeline
    line = json.loads((EXAMPLES / "police.jsonl").read_bytes().splitlines()[0])
    [frame] = ADAPTERS[Agency.POLICE].frame(io.BytesIO(json.dumps(line).encode()), "p")
    event = ADAPTERS[Agency.POLICE].map(frame, datetime.now(UTC)).events[0]
    signed = keys.signer(Agency.POLICE).sign(event)
    tampered = json.loads(signed.to_bytes())
    tampered["payload"]["dash_risk"] = "high"  # would open an override if believed
    good = keys.signer(Agency.POLICE).sign(event.model_copy(update={"event_id": uuid.uuid4()}))
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        await producer.send_and_wait(Topic.LINKED.value, json.dumps(tampered).encode(), key=b"f")
        await producer.send_and_wait(Topic.LINKED.value, event.to_bytes(), key=b"f")  # unsigned
        await producer.send_and_wait(Topic.LINKED.value, good.to_bytes(), key=b"f")
    finally:
        await producer.stop()
    store = ConsentStore(engine)
    await eventually(lambda: store.decided([str(good.event_id)]) == {str(good.event_id)})
    assert store.decided([str(signed.event_id), str(event.event_id)]) == set()
    reasons = [q.reason for q in await quarantined(bootstrap, "consent")]
    assert "signature does not match the event" in reasons and "unsigned event" in reasons
