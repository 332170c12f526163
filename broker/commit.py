"""The one place that owns the order of a batch's side effects (as Quix Streams'
``Checkpoint.commit`` does): publish the outputs, wait until the broker holds them,
store what the batch did, then let the offsets be committed.

Every service's handler ends in ``BatchCommit.commit``. The subscriber acknowledges with
``NACK_ON_ERROR`` (``broker.consuming.batch_subscriber``): FastStream commits the batch's
offsets only when the handler returns, so an exception anywhere before then rewinds the
whole batch, and no later success can commit past it. Outputs go first because a crash
after they are published and before they are stored replays the batch, and every
consumer recognises an event it has already handled by its id; a crash after storing
and before publishing would lose the outputs for good.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ehx.broker.publishing import MessagePublisher, OutboundMessage
from ehx.database.retry import store_after_publish


@dataclass(frozen=True)
class Store:
    """One write a batch makes after its outputs are published.

    ``done`` says whether an earlier attempt committed after all (see
    ``database.retry.store_after_publish``); ``retry`` False fails the batch at once if
    the database is away, for a write whose replay is cheaper than a wait.
    """

    write: Callable[[], object]
    what: str
    done: Callable[[], bool] | None = None
    retry: bool = True


class BatchCommit:
    """Publish, flush, store; the offsets are committed as the handler returns."""

    def __init__(self, publisher: MessagePublisher) -> None:
        self.publisher = publisher

    async def commit(self, outputs: Sequence[OutboundMessage], *stores: Store) -> None:
        """Publish ``outputs`` (returns once the broker holds every one: the flush), then
        make each write in order, waiting out a database that is briefly away."""
        await self.publisher.publish(outputs)
        for store in stores:
            await store_after_publish(
                store.write, what=store.what, done=store.done, within=60.0 if store.retry else 0
            )
