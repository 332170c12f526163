"""The consent (filter) service: ``ehx.linked`` and ``ehx.consent`` in; views and decisions out.

- ``ehx.linked`` (group ``consent``, batches): each event's agency signature is checked
  first (an unverifiable event is quarantined, never decided); then every recipient is
  decided; views go to ``ehx.share.<recipient>`` and each event's decisions, together in
  one message (``consent.decide.EventDecisions``), to ``ehx.decisions``, all keyed by
  family id. The audit ledger records each decision and delivery from
  ``ehx.decisions``; retractions and keys destroyed go to ``ehx.audit``
  (``consent/auditing.py``).
- Relinks on ``ehx.linked`` (header ``ehx-kind: relink``; a reviewer merged or split
  people): what recipients hold under the old identity is retracted, and the event is
  decided afresh, after the batch's new events.
- ``ehx.consent`` (group ``consent-registry``): grants, refusals, withdrawals, expiries,
  assertions and override reviews update the registry and re-decide what they touch.
- A sweep publishes an ``expired`` record for each consent whose time has run out, so
  expiry is recorded and shreds like a withdrawal.

Acknowledgement: ``NACK_ON_ERROR``. Views, decisions and quarantine entries are
published and acknowledged, then the store commits, then the offset is committed. A
crash in between replays the batch: events already on file are skipped, the rest are
decided again under the same decision ids and revisions (recipients are idempotent by
decision id and revision). A database that cannot be reached at the store step is waited
for (``database/retry.py``), so the decisions stored are the ones published. One lock
serialises the two subscribers, so a consent change never interleaves with a batch being
decided.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from typing import Any

from faststream import Context
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from pydantic import TypeAdapter

from ehx.broker import telemetry
from ehx.broker.auditing import audit_messages
from ehx.broker.commit import BatchCommit, Store
from ehx.broker.consuming import (
    BATCH,
    Parsing,
    ReadBatch,
    Verification,
    batch_subscriber,
    parsed,
    service_router,
)
from ehx.broker.publishing import MessagePublisher, OutboundMessage
from ehx.broker.topics import Topic
from ehx.consent.auditing import consent_acts, published_records
from ehx.consent.decide import Decision, Outcome, decisions_message
from ehx.consent.engine import ConsentEngine, Outbox
from ehx.consent.keys import DataKeyStore
from ehx.consent.policy import Policy
from ehx.consent.registry import ConsentTopicRecord
from ehx.consent.store import ConsentStore
from ehx.schemas import CanonicalEvent, SignatureVerifier
from ehx.schemas.links import Relink
from ehx.schemas.quarantine import QuarantineRecord
from ehx.schemas.vocabulary import Addressee, Recipient

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


def outbox_messages(
    outbox: Outbox, carried: dict[str, dict[str, str]] | None = None
) -> list[OutboundMessage]:
    """Every view (or retraction), and each event's decisions in one message, keyed by
    family id.

    ``carried``: per event id, the headers its journey carries on (trace, accepted-at).
    """
    out: list[OutboundMessage] = []
    for message in outbox.messages:
        headers = {"ehx-event-id": str(message.event_id), "ehx-kind": message.kind}
        headers.update((carried or {}).get(str(message.event_id), {}))
        out.append(
            OutboundMessage(
                Topic.share(Addressee.parse(message.recipient).recipient),
                message.family_id.encode(),
                message.model_dump_json().encode(),
                tuple((k, v.encode()) for k, v in headers.items()),
            )
        )
    # Counted per batch, not per decision: five decisions an event made the counter's
    # attribute dictionaries a tenth of this function's time.
    counted: Counter[tuple[Outcome, Recipient]] = Counter()
    # One message for each event's decisions (and family: a relink's retractions go
    # under the family the event was in), in the order the step made them.
    together: dict[tuple[str, str], list[Decision]] = {}
    for decision in outbox.decisions:
        counted[(decision.outcome, decision.recipient)] += 1
        if decision.outcome is Outcome.OVERRIDE:
            telemetry.overrides.add(1, {"ehx.rule": decision.rule or "assertion"})
        together.setdefault((str(decision.event_id), decision.family_id), []).append(decision)
    for (event_id, family_id), decisions in together.items():
        # The trace goes with the decisions: the ledger's record of each names the trace.
        traceparent = (carried or {}).get(event_id, {}).get(telemetry.TRACEPARENT)
        out.append(
            OutboundMessage(
                Topic.DECISIONS.value,
                family_id.encode(),
                decisions_message([outbox.decision_json(d) for d in decisions]),
                (("ehx-event-id", event_id.encode()),)
                + (((telemetry.TRACEPARENT, traceparent.encode()),) if traceparent else ()),
            )
        )
    for (outcome, recipient), count in counted.items():
        telemetry.decisions.add(
            count, {"ehx.outcome": outcome.value, "ehx.recipient": recipient.value}
        )
    return out


def _journey(event: CanonicalEvent, headers: Any) -> dict[str, str]:
    """The headers an event's views carry on: its trace, and when it was accepted."""
    carried = {}
    if event.trace is not None:
        carried[telemetry.TRACEPARENT] = event.trace.traceparent
    accepted = telemetry.header(headers, telemetry.ACCEPTED_AT)
    if accepted:
        carried[telemetry.ACCEPTED_AT] = accepted
    return carried


@dataclass(frozen=True)
class LinkedReading:
    """What ``ehx.linked`` carries: linked events under their agencies' signatures, and the
    linker's relinks (a person's records moved to another person or family)."""

    events: Verification

    def read(self, record: Any, stage: str, now: datetime) -> Linked | QuarantineRecord | None:
        if telemetry.header(record.headers, "ehx-kind") == "relink":
            return parsed(record, Relink.model_validate_json, stage, "a relink", now)
        return self.events.read(record, stage, now)

    def trace(self, item: Linked, record: Any) -> tuple[str, str | None] | None:
        return None if isinstance(item, Relink) else self.events.trace(item, record)


Linked = CanonicalEvent | Relink


def register_consent(
    broker: KafkaBroker,
    publisher: MessagePublisher,
    service: ConsentService,
    verifier: SignatureVerifier,
    *,
    session_timeout_ms: int = 10_000,
) -> None:
    """Attach the consent service's subscribers to ``broker``; they publish through
    ``publisher``."""

    batches = BatchCommit(publisher)
    # Relinks travel on ehx.linked beside the events; the handler reads them itself.
    router = service_router(GROUP, LinkedReading(Verification(verifier)))
    registry_router = service_router(
        f"{GROUP}-registry", Parsing(_records.validate_json, "a consent record", stage=GROUP)
    )

    @batch_subscriber(
        router, Topic.LINKED.value, group_id=GROUP, session_timeout_ms=session_timeout_ms
    )
    async def on_linked(message: KafkaMessage, batch: ReadBatch[Linked] = Context(BATCH)) -> None:
        now = datetime.now(UTC)
        out = list(batch.refused)
        received = [(e, record) for e, record in batch.items if isinstance(e, CanonicalEvent)]
        relinks = [relink for relink, _ in batch.items if isinstance(relink, Relink)]
        events = [event for event, _ in received]
        carried = {str(e.event_id): _journey(e, record.headers) for e, record in received}
        as_received = {str(e.event_id): record.value for e, record in received}
        async with service.lock:
            outbox = await asyncio.to_thread(service.engine.on_events, events, now)
            await asyncio.to_thread(service.engine.vault.flush)  # keys before what they seal
            out += outbox_messages(outbox, carried)
            traces = {i: h.get(telemetry.TRACEPARENT, "") for i, h in carried.items()}
            out += audit_messages(consent_acts(outbox, now, traces))
            await batches.commit(
                out, Store(partial(service.store.save, outbox, as_received), "consent decisions")
            )
            if relinks:
                # After the batch's events are on file: a relink may follow its event here.
                moved = await asyncio.to_thread(service.engine.on_relinks, relinks, now)
                await asyncio.to_thread(service.engine.vault.flush)
                await batches.commit(
                    outbox_messages(moved) + audit_messages(consent_acts(moved, now)),
                    Store(partial(service.store.save, moved), "consent relinks"),
                )
                log.info(
                    "consent batch: %d relinked, %d already applied, %d never decided here",
                    len(moved.relinked),
                    moved.replays,
                    moved.unknown,
                )
        if outbox.replays:
            log.info("consent batch: %d events already decided (replayed)", outbox.replays)

    @batch_subscriber(
        registry_router,
        Topic.CONSENT.value,
        group_id=f"{GROUP}-registry",
        session_timeout_ms=session_timeout_ms,
        max_records=50,
    )
    async def on_consent(
        message: KafkaMessage, batch: ReadBatch[ConsentTopicRecord] = Context(BATCH)
    ) -> None:
        now = datetime.now(UTC)
        if batch.refused:
            await publisher.publish(batch.refused)
        for checked, _ in batch.items:
            async with service.lock:
                outbox = await asyncio.to_thread(service.engine.on_record, checked, now)
                await asyncio.to_thread(service.engine.vault.flush)
                await batches.commit(
                    outbox_messages(outbox)
                    + audit_messages(published_records(outbox, [checked], now)),
                    Store(partial(service.store.save, outbox), "consent decisions"),
                    Store(partial(service.store.save_record, checked), "consent record"),
                )
            for shred in outbox.shredded:
                log.info(
                    "keys destroyed: recipient %s, person %s, %d key(s)",
                    shred.recipient,
                    shred.person_id,
                    len(shred.key_ids),
                )

    broker.include_router(router)
    broker.include_router(registry_router)


async def sweep_expiries(
    publisher: MessagePublisher, service: ConsentService, every: float
) -> None:
    """Publish an ``expired`` record for each consent whose time has run out; forever."""
    while True:
        await publish_expiries(publisher, service, datetime.now(UTC))
        await asyncio.sleep(every)


async def publish_expiries(
    publisher: MessagePublisher, service: ConsentService, now: datetime
) -> int:
    expired = service.engine.expired(now)
    await publisher.publish([consent_message(record) for record in expired])
    return len(expired)


def consent_message(record: ConsentTopicRecord) -> OutboundMessage:
    """A consent record as it goes on the compacted ``ehx.consent``, keyed by its id."""
    return OutboundMessage(
        Topic.CONSENT.value,
        record.record_id.encode(),
        record.model_dump_json().encode(),
        (("ehx-kind", record.kind.encode()),),
    )
