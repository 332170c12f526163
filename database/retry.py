"""A store write made after its batch was published, tried again while the database is away.

The linker and the consent service publish a batch, then store what they did, then commit
the offset. If that store write fails because the database cannot be reached (restarting,
failing over), failing the batch would replay it: fetched afresh, the batch may group the
partitions differently, so the service would link or decide it again in another order
than the one it already published, and publish it all twice. Waiting for the database and
writing the same thing keeps what is stored equal to what was published.

Only ``OperationalError`` (the connection) is waited out, for at most ``within`` seconds;
then, and for any other error, the write fails and the batch is replayed as before.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from sqlalchemy.exc import OperationalError

log = logging.getLogger(__name__)

#: Seconds to wait before the first retry; doubled each time, up to ``LONGEST_WAIT``
#: (short: a restarted server is back in seconds, and each wait delays every alert).
FIRST_WAIT = 0.2
LONGEST_WAIT = 1.0


async def store_after_publish(
    write: Callable[[], object],
    *,
    what: str,
    done: Callable[[], bool] | None = None,
    within: float = 60.0,
) -> None:
    """Run ``write`` (in a thread) until it succeeds, while the database is unreachable.

    ``done`` says whether an earlier attempt committed after all (the server can commit
    and then lose the connection before it answers); it is asked before each retry, so a
    write that is not idempotent is never made twice.
    """
    deadline = time.monotonic() + within
    wait = FIRST_WAIT
    retrying = False
    while True:
        try:
            if retrying and done is not None and await asyncio.to_thread(done):
                return
            await asyncio.to_thread(write)
            return
        except OperationalError as exc:
            if time.monotonic() + wait > deadline:
                raise
            # The class only: the driver's message can name the server and its user.
            log.warning(
                "%s: database unreachable (%s); writing again in %.1f s",
                what,
                type(exc.orig).__name__,
                wait,
            )
            await asyncio.sleep(wait)
            wait = min(wait * 2, LONGEST_WAIT)
            retrying = True
