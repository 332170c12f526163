"""The audit ledger service: ``ehx.audit`` and ``ehx.decisions`` in; chained entries,
checkpoints and notices out.

Every stage's acts come on ``ehx.audit``, but for the consent service's decisions: those
are on ``ehx.decisions`` already, published once with the views they sent (each event's
decisions together in one message, ``consent.decide.EventDecisions``; a single decision,
as earlier versions published them, is read too), and the ledger records each decision
there, and the delivery it made (``consent.auditing.decision_acts``: the same records,
under the same ids, that consent used to publish a second time).

Subscribes as group ``audit-ledger`` in batches (``NACK_ON_ERROR``): a batch is appended
in one transaction, then the offsets are committed; a crash in between replays the batch
and the ledger skips the audit ids it already holds. The group has one consumer, so the
ledger has one writer and one order (the order the batches bring the two topics in).

After each batch, and on a timer, a checkpoint is signed if ``EHX_AUDIT_CHECKPOINT_EVERY``
entries or ``EHX_AUDIT_CHECKPOINT_SECONDS`` have passed since the last one.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from faststream import Context
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from pydantic_settings import BaseSettings, SettingsConfigDict

from ehx.audit.access import AccessLog
from ehx.audit.checkpoints import Checkpoint, Due, sign
from ehx.audit.ledger import AuditLedger
from ehx.broker import telemetry
from ehx.broker.commit import BatchCommit, Store
from ehx.broker.consuming import BATCH, ReadBatch, batch_subscriber, parsed, service_router
from ehx.broker.publishing import MessagePublisher
from ehx.broker.topics import Topic
from ehx.consent.auditing import decision_acts, trace_id_of
from ehx.consent.decide import read_decisions
from ehx.schemas.audit import AuditRecord
from ehx.schemas.quarantine import QuarantineRecord

GROUP = "audit-ledger"
log = logging.getLogger(__name__)


class AuditSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="EHX_AUDIT_", frozen=True, extra="ignore")

    checkpoint_every: int = 1000
    checkpoint_seconds: float = 10.0


@dataclass
class Checkpointer:
    """Signs the ledger's head when a checkpoint is due."""

    ledger: AuditLedger
    key: Ed25519PrivateKey
    due: Due = field(default_factory=Due)
    _last_seq: int | None = None
    _last_time: float = field(default_factory=time.monotonic)

    def maybe(self, now: datetime, seq: int | None = None) -> Checkpoint | None:
        """Sign the ledger's head if a checkpoint is due.

        ``seq``: the ledger's last entry, when the caller just appended it. Then the ledger
        is read only when a checkpoint is due (for the hash it signs), not after every batch.
        """
        if self._last_seq is None:
            points = self.ledger.checkpoints()
            self._last_seq = points[-1].seq if points else 0
        head = self.ledger.head() if seq is None else None
        if seq is None:
            if head is None:
                return None
            seq = head.seq
        if not self.due.now(seq - self._last_seq, time.monotonic() - self._last_time):
            return None
        head = head or self.ledger.head()
        if head is None:
            return None
        checkpoint = sign(self.key, head.seq, head.hash, now)
        self.ledger.add_checkpoint(checkpoint)
        self._last_seq, self._last_time = head.seq, time.monotonic()
        return checkpoint


@dataclass
class AuditService:
    ledger: AuditLedger
    access: AccessLog
    checkpointer: Checkpointer
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    def take(self, records: list[AuditRecord], now: datetime) -> int:
        """Append, notify, checkpoint if due; returns how many entries were new."""
        appended = self.ledger.append(records)
        if appended:
            self.access.notice(appended, now)
        self.checkpointer.maybe(now, appended[-1].seq if appended else None)
        return len(appended)


class LedgerReading:
    """What the ledger reads: audit records as written, and each event's decisions on
    ``ehx.decisions`` as the acts they record (one message an event carries them all)."""

    def read(self, record: Any, stage: str, now: datetime) -> list[AuditRecord] | QuarantineRecord:
        if record.topic == Topic.DECISIONS.value:
            decided = parsed(record, read_decisions, stage, "an event's decisions", now)
            if isinstance(decided, QuarantineRecord):
                return decided
            trace_id = trace_id_of(telemetry.header(record.headers, telemetry.TRACEPARENT))
            return [act for decision in decided for act in decision_acts(decision, trace_id)]
        checked = parsed(record, AuditRecord.model_validate_json, stage, "an audit record", now)
        return checked if isinstance(checked, QuarantineRecord) else [checked]

    def trace(self, item: list[AuditRecord], record: Any) -> None:
        return None  # the ledger's work is not on an event's journey


Acts = ReadBatch[list[AuditRecord]]


def register_audit(
    broker: KafkaBroker,
    publisher: MessagePublisher,
    service: AuditService,
    *,
    session_timeout_ms: int = 10_000,
) -> None:
    """Attach the ledger's subscriber to ``broker``; refusals go out through ``publisher``."""

    batches = BatchCommit(publisher)
    router = service_router(GROUP, LedgerReading())

    @batch_subscriber(
        router,
        Topic.AUDIT.value,
        Topic.DECISIONS.value,
        group_id=GROUP,
        session_timeout_ms=session_timeout_ms,
        off_the_alert_path=True,
    )
    async def on_audit(message: KafkaMessage, batch: Acts = Context(BATCH)) -> None:
        now = datetime.now(UTC)
        records = [act for acts, _ in batch.items for act in acts]
        async with service.lock:
            # The ledger is one writer's chain: a write that may have committed is not
            # made again, so a database that is away fails the batch (it is replayed).
            await batches.commit(
                batch.refused,
                Store(partial(service.take, records, now), "audit ledger", retry=False),
            )

    broker.include_router(router)


async def checkpoint_timer(service: AuditService, every: float) -> None:
    """Sign a checkpoint when one is due by time, though no batch arrives; forever."""
    while True:
        await asyncio.sleep(every)
        async with service.lock:
            await asyncio.to_thread(service.checkpointer.maybe, datetime.now(UTC))
