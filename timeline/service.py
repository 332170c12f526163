"""The timeline service: ``ehx.share.*`` in, each recipient's timeline out (the database).

Acknowledgement: ``NACK_ON_ERROR``. A batch is applied in one transaction, then the
offset is committed; a crash in between replays the batch, which changes nothing
(applying is idempotent by recipient, event id and revision). A message that is not a
view or a retraction goes to quarantine before the offset moves.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial

from faststream import Context
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from pydantic import ValidationError

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
from ehx.broker.publishing import MessagePublisher
from ehx.broker.reading import read_from_start
from ehx.broker.settings import BrokerSettings
from ehx.broker.topics import SHARE_TOPICS
from ehx.schemas.views import Retraction, ShareView
from ehx.timeline.store import Applied, TimelineStore, parse_message

GROUP = "timeline"
log = logging.getLogger(__name__)


AfterBatch = Callable[[list[ShareView | Retraction], datetime], object]
Viewed = ReadBatch[ShareView | Retraction]


def register_timeline(
    broker: KafkaBroker,
    publisher: MessagePublisher,
    store: TimelineStore,
    after: AfterBatch | None = None,
    *,
    session_timeout_ms: int = 10_000,
) -> None:
    """Attach the timeline subscriber to ``broker``; ``after`` runs on each stored batch.

    Refusals go out through ``publisher``."""

    batches = BatchCommit(publisher)
    router = service_router(GROUP, Parsing(parse_message, "a view or a retraction", spans=True))

    @batch_subscriber(router, *SHARE_TOPICS, group_id=GROUP, session_timeout_ms=session_timeout_ms)
    async def on_share(message: KafkaMessage, batch: Viewed = Context(BATCH)) -> None:
        messages = [view for view, _ in batch.items]
        received = [record.value for _, record in batch.items]
        # Views are applied by event id, so a replayed batch changes nothing twice.
        await batches.commit(
            batch.refused, Store(partial(store.apply, messages, received), "timeline views")
        )
        for record in batch_records(message.raw_message):
            telemetry.observe_end_to_end(
                GROUP, telemetry.header(record.headers, telemetry.ACCEPTED_AT)
            )
        if after is not None:
            # Stamped now, not when the batch arrived: an alert is raised once the
            # timeline holds its views, and storing a large batch takes a while.
            with batch.spans("alerts"):
                await asyncio.to_thread(after, messages, datetime.now(UTC))

    broker.include_router(router)


async def rebuild(
    store: TimelineStore,
    bootstrap: str,
    settings: BrokerSettings | None = None,
    quiet_polls: int = 4,
    on_progress: Callable[[int], None] | None = None,
) -> Applied:
    """Empty the store and replay every share topic from its beginning into it.

    Reads without a consumer group (nothing is committed) until the topics go quiet:
    the embedded broker's high watermark cannot be trusted to say where the end is.
    """
    settings = settings or BrokerSettings()
    await asyncio.to_thread(store.clear)
    totals: dict[str, int] = {"shown": 0, "retracted": 0, "superseded": 0, "replays": 0}
    seen = 0
    async for records in read_from_start(
        bootstrap, settings, SHARE_TOPICS, purpose="rebuild", quiet_polls=quiet_polls
    ):
        messages, received = [], []
        for record in records:
            try:
                messages.append(parse_message(record.value or b""))
            except ValidationError:
                continue  # the live service quarantined it already
            received.append(record.value)
        applied = await asyncio.to_thread(store.apply, messages, received)
        for name in totals:
            totals[name] += getattr(applied, name)
        seen += len(records)
        if on_progress is not None:
            on_progress(seen)
    return Applied(**totals)
