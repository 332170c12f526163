"""Every stage's acts reach the ledger through ``ehx.audit``, on the real broker.

The services run as ``ehx up`` runs them (the audit service among them); records go in
through the adapters; the ledger is then asked what it holds, and verified.
"""

from __future__ import annotations

import io
from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine

from ehx.adapters import ADAPTERS
from ehx.adapters.ingest import Ingestor
from ehx.adapters.registry import RecordRegistry
from ehx.audit import queries
from ehx.audit.ledger import AuditLedger
from ehx.audit.verify import verify
from ehx.broker.publishing import KafkaPublisher
from ehx.broker.settings import BrokerSettings
from ehx.consent import ConsentRecord, ConsentState, Giver, Purpose, SubjectKind
from ehx.consent.service import consent_message
from ehx.schemas import Agency, Category, KeyStore
from ehx.schemas.vocabulary import Recipient
from ehx.timeline.store import TimelineQuery, TimelineStore
from tests.conftest import eventually
from tests.flows import ingest_khans

pytestmark = [pytest.mark.kafka, pytest.mark.slow]


@pytest.fixture
def small_checkpoints(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EHX_AUDIT_CHECKPOINT_EVERY", "25")
    monkeypatch.setenv("EHX_AUDIT_CHECKPOINT_SECONDS", "1")


async def test_accepted_refused_decided_delivered_consented_and_shredded_are_all_in_the_ledger(
    small_checkpoints: None, pipeline: tuple[str, Engine, KeyStore]
) -> None:
    bootstrap, engine, keys = pipeline
    ids = await ingest_khans(bootstrap, engine, keys)
    async with KafkaPublisher(bootstrap, BrokerSettings()) as publisher:
        refused = await Ingestor(
            ADAPTERS[Agency.POLICE], RecordRegistry(engine), keys.signer(Agency.POLICE), publisher
        ).ingest(io.BytesIO(b'{"not": "an incident"}\n'), "bad.jsonl")
    assert len(refused.refused) == 1
    ledger = AuditLedger(engine)

    def acted(action: str) -> set[str]:
        return {e for f in ledger.find(actions=[action]) for e in f.record.event_ids}

    await eventually(lambda: ids <= acted("record.accepted"), timeout=60)
    await eventually(lambda: bool(ledger.find(actions=["record.refused"], agency="police")))
    decided = (
        "decision.allow",
        "decision.deny",
        "decision.override",
        "decision.notify",
        "decision.indicator",
    )
    # Every event decided for each of the five recipients other than its own agency.
    await eventually(
        lambda: sum(1 for f in ledger.find(actions=decided) if f.record.event_ids[0] in ids) >= 50,
        timeout=60,
    )

    # What each recipient holds on its timeline, it was recorded as having received.
    timeline = TimelineStore(engine)

    def shown(recipient: str) -> set[str]:
        return {str(v.event_id) for v in timeline.entries(TimelineQuery(recipient))} & ids

    def received(recipient: str) -> set[str]:
        return {e for row in queries.received(ledger, recipient) for e in row["event_ids"]}

    # The MASH gets nothing about the Khans; each school only its own pupil's notice.
    for recipient in ("early_help", "school:103512", "school:103377"):
        await eventually(lambda r=recipient: bool(shown(r)))  # type: ignore[misc]
        await eventually(lambda r=recipient: shown(r) <= received(r))  # type: ignore[misc]
    assert not shown("mash") and not received("mash") & ids

    # A consent given and withdrawn: both recorded, and the keys destroyed.
    family = next(v.family_id for v in timeline.entries(TimelineQuery("school:103512")))
    now = datetime.now(UTC)
    granted = ConsentRecord(
        state=ConsentState.GRANTED,
        subject_kind=SubjectKind.FAMILY,
        subject_id=family,
        giver=Giver.PARENT,
        recorded_by="ew-9",
        recorded_by_agency=Recipient.EARLY_HELP,
        recipients=(Recipient.EARLY_HELP,),
        categories=tuple(Category),
        purpose=Purpose.EARLY_HELP_ASSESSMENT,
        valid_from=now,
        recorded_at=now,
    )
    async with KafkaPublisher(bootstrap, BrokerSettings()) as publisher:
        await publisher.publish([consent_message(granted)])
        await eventually(lambda: bool(ledger.find(actions=["consent.granted"], subject=family)))
        await publisher.publish([consent_message(granted.withdraw("ew-9", datetime.now(UTC)))])
    await eventually(lambda: bool(ledger.find(actions=["consent.withdrawn"], subject=family)))
    await eventually(lambda: bool(ledger.find(actions=["key.destroyed"], agency="early_help")))
    [withdrawn] = ledger.find(actions=["consent.withdrawn"], subject=family)
    assert withdrawn.record.actor == "ew-9" and str(granted.consent_id) in withdrawn.record.bases

    # Signed checkpoints were made along the way, and the whole ledger holds.
    await eventually(lambda: bool(ledger.checkpoints()))
    verdict = verify(ledger.entries(), ledger.checkpoints(), keys.ledger_public_key())
    assert verdict.ok, verdict.problems
    assert verdict.checkpoints >= 1
