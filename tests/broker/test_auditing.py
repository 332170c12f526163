"""Audit records leave a stage in producer batches that fit, every one of them."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

from broker.auditing import publish_audits
from schemas.audit import AuditRecord


class Batches:
    """Stands in for the FastStream broker: keeps each batch it is asked to send."""

    def __init__(self) -> None:
        self.sent: list[tuple[bytes, ...]] = []

    async def publish_batch(self, *bodies: bytes, topic: str) -> None:
        assert topic == "ehx.audit"
        self.sent.append(bodies)


def test_thousands_of_records_go_in_batches_under_the_producers_limit() -> None:
    records = [
        AuditRecord(
            action="decision.deny",
            actor="ehx:consent",
            role="system",
            agency="schools",
            purpose="no consent covers this recipient",
            subject_ids=tuple(f"p{n:08d}" for n in range(i % 7 + 1)),
            event_ids=(f"e{i}",),
            at=datetime.now(UTC),
        )
        for i in range(3_000)
    ]
    broker: Any = Batches()
    asyncio.run(_gather(publish_audits(broker, records)))
    sent = [body for batch in broker.sent for body in batch]
    assert [AuditRecord.model_validate_json(b) for b in sent] == records  # all, in order
    assert 10 < len(broker.sent) < 300
    # aiokafka's default batch is 16 KB, with about 70 bytes of overhead per record.
    assert all(sum(len(b) + 70 for b in batch) < 16_384 for batch in broker.sent)


async def _gather(sends: list[Any]) -> None:
    await asyncio.gather(*sends)
