"""The consent (filter) service: ``ehx.linked`` and ``ehx.consent`` in; views and decisions out.

- ``ehx.linked`` (group ``consent``, batches): each event's agency signature is checked
  first (an unverifiable event is quarantined, never decided); then every recipient is
  decided; views go to ``ehx.share.<recipient>`` and every decision to ``ehx.decisions``,
  all keyed by family id; each decision, delivery and key destroyed also goes to
  ``ehx.audit`` (``consent/auditing.py``).
- ``ehx.consent`` (group ``consent-registry``): grants, refusals, withdrawals, expiries,
  assertions and override reviews update the registry and re-decide what they touch.
- A sweep publishes an ``expired`` record for each consent whose time has run out, so
  expiry is recorded and shreds like a withdrawal.

Acknowledgement: ``NACK_ON_ERROR``. Views, decisions and quarantine entries are
published and acknowledged, then the store commits, then the offset is committed. A
crash in between replays the batch: events already on file are skipped, the rest are
decided again under the same decision ids and revisions (recipients are idempotent by
decision id and revision). One lock serialises the two subscribers, so a consent change
never interleaves with a batch being decided.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from pydantic import TypeAdapter

from adapters.publisher import OutboundMessage
from broker import telemetry
from broker.auditing import publish_audits
from broker.consuming import batch_records, batch_subscriber, parsed, quarantine, verified_event
from broker.topics import Recipient, Topic
from consent.auditing import all_records, outbox_records
from consent.decide import Outcome
from consent.engine import ConsentEngine, Outbox
from consent.keys import DataKeyStore
from consent.policy import Policy
from consent.registry import ConsentTopicRecord
from consent.store import ConsentStore
from schemas import CanonicalEvent, SignatureVerifier
from schemas.quarantine import QuarantineRecord

GROUP = "consent"
log = logging.getLogger(__name__)
_records: TypeAdapter[ConsentTopicRecord] = TypeAdapter(ConsentTopicRecord)


@dataclass
class ConsentService:
    """The engine, its store, and the lock that keeps the two subscribers in turn."""

    engine: ConsentEngine
    store: ConsentStore
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    @classmethod
    def open(cls, store: ConsentStore, keys: DataKeyStore, policy: Policy) -> ConsentService:
        return cls(ConsentEngine(policy, keys, store.load_registry(), store), store)


def publish_outbox(
    broker: KafkaBroker, outbox: Outbox, carried: dict[str, dict[str, str]] | None = None
) -> list[Awaitable[Any]]:
    """Every view (or retraction) and every decision, keyed by family id.

    ``carried``: per event id, the headers its journey carries on (trace, accepted-at).
    """
    sends: list[Awaitable[Any]] = []
    for message in outbox.messages:
        headers = {"ehx-event-id": str(message.event_id), "ehx-kind": message.kind}
        headers.update((carried or {}).get(str(message.event_id), {}))
        sends.append(
            broker.publish(
                message.model_dump_json().encode(),
                Topic.share(Recipient(message.recipient)).value,
                key=message.family_id.encode(),
                headers=headers,
            )
        )
    for decision in outbox.decisions:
        telemetry.decisions.add(
            1, {"ehx.outcome": decision.outcome.value, "ehx.recipient": decision.recipient.value}
        )
        if decision.outcome is Outcome.OVERRIDE:
            telemetry.overrides.add(1, {"ehx.rule": decision.rule or "assertion"})
        sends.append(
            broker.publish(
                decision.model_dump_json().encode(),
                Topic.DECISIONS.value,
                key=decision.family_id.encode(),
                headers={"ehx-event-id": str(decision.event_id)},
            )
        )
    return sends


def _journey(event: CanonicalEvent, headers: Any) -> dict[str, str]:
    """The headers an event's views carry on: its trace, and when it was accepted."""
    carried = {}
    if event.trace is not None:
        carried[telemetry.TRACEPARENT] = event.trace.traceparent
    accepted = telemetry.header(headers, telemetry.ACCEPTED_AT)
    if accepted:
        carried[telemetry.ACCEPTED_AT] = accepted
    return carried


def register_consent(
    broker: KafkaBroker,
    service: ConsentService,
    verifier: SignatureVerifier,
    *,
    session_timeout_ms: int = 10_000,
) -> None:
    """Attach the consent service's subscribers to ``broker``."""

    @batch_subscriber(
        broker, Topic.LINKED.value, group_id=GROUP, session_timeout_ms=session_timeout_ms
    )
    async def on_linked(message: KafkaMessage) -> None:
        now = datetime.now(UTC)
        events: list[CanonicalEvent] = []
        sends: list[Awaitable[Any]] = []
        records = batch_records(message.raw_message)
        telemetry.record_batch(GROUP, records)
        carried: dict[str, dict[str, str]] = {}
        for record in records:
            checked = verified_event(record, verifier, GROUP, now)
            if isinstance(checked, CanonicalEvent):
                events.append(checked)
                carried[str(checked.event_id)] = _journey(checked, record.headers)
            else:
                sends.append(quarantine(broker, checked))
        traced = [(e, h.get(telemetry.TRACEPARENT)) for e, h in carried.items()]
        async with service.lock:
            with telemetry.stage_spans(GROUP, traced):
                outbox = await asyncio.to_thread(service.engine.on_events, events, now)
                await asyncio.to_thread(service.engine.vault.flush)  # keys before what they seal
                sends += publish_outbox(broker, outbox, carried)
                traces = {
                    e: h[telemetry.TRACEPARENT]
                    for e, h in carried.items()
                    if h.get(telemetry.TRACEPARENT)
                }
                sends += publish_audits(broker, outbox_records(outbox, now, traces))
                await asyncio.gather(*sends)
                await asyncio.to_thread(service.store.save, outbox)
        if outbox.replays:
            log.info("consent batch: %d events already decided (replayed)", outbox.replays)

    @batch_subscriber(
        broker,
        Topic.CONSENT.value,
        group_id=f"{GROUP}-registry",
        session_timeout_ms=session_timeout_ms,
        max_records=50,
    )
    async def on_consent(message: KafkaMessage) -> None:
        now = datetime.now(UTC)
        for record in batch_records(message.raw_message):
            checked = parsed(record, _records.validate_json, GROUP, "a consent record", now)
            if isinstance(checked, QuarantineRecord):
                await quarantine(broker, checked)
                continue
            async with service.lock:
                outbox = await asyncio.to_thread(service.engine.on_record, checked, now)
                await asyncio.to_thread(service.engine.vault.flush)
                await asyncio.gather(
                    *publish_outbox(broker, outbox),
                    *publish_audits(broker, all_records(outbox, [checked], now)),
                )
                await asyncio.to_thread(service.store.save, outbox)
                await asyncio.to_thread(service.store.save_record, checked)
            for shred in outbox.shredded:
                log.info(
                    "keys destroyed: recipient %s, person %s, %d key(s)",
                    shred.recipient,
                    shred.person_id,
                    len(shred.key_ids),
                )


async def sweep_expiries(broker: KafkaBroker, service: ConsentService, every: float) -> None:
    """Publish an ``expired`` record for each consent whose time has run out; forever."""
    while True:
        await publish_expiries(broker, service, datetime.now(UTC))
        await asyncio.sleep(every)


async def publish_expiries(broker: KafkaBroker, service: ConsentService, now: datetime) -> int:
    expired = service.engine.expired(now)
    for record in expired:
        await publish_consent_record(broker, record)
    return len(expired)


async def publish_consent_record(broker: KafkaBroker, record: ConsentTopicRecord) -> None:
    """Put a consent record on the compacted ``ehx.consent`` topic, keyed by its id."""
    await broker.publish(
        record.model_dump_json().encode(),
        Topic.CONSENT.value,
        key=record.record_id.encode(),
        headers={"ehx-kind": record.kind},
    )


def consent_message(record: ConsentTopicRecord) -> OutboundMessage:
    """A consent record as it goes on ``ehx.consent`` (for publishers outside the service)."""
    return OutboundMessage(
        Topic.CONSENT.value,
        record.record_id.encode(),
        record.model_dump_json().encode(),
        (("ehx-kind", record.kind.encode()),),
    )
