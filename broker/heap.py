"""Keep the cyclic garbage collector's full passes short in a long-running service.

A service holds large, long-lived state (the linker's identity index, the alert desk's
validated views, the consent engine's key cache). CPython's full collection walks every
tracked object, so as that state grows each pass stops the event loop for longer:
measured at 300 records/s, the timeline service paused 450 ms, the linker 270 ms and
consent 150 ms, a dozen times a minute, and those pauses were the alert latency's p99.

After each full collection, whatever survived it is moved to the permanent generation
(``gc.freeze``): later passes walk only what arrived since. Frozen objects are still
freed by reference counting the moment nothing refers to them; only a reference cycle
formed among them later would never be collected, which state that is kept rather than
churned seldom makes.

And the youngest generation is collected every 50,000 allocations, not every 700. A
batch of 500 events builds tens of thousands of objects (events, decisions, views,
audit records, rows) that live until the batch is published and stored, so at the
default every young collection walked a batch still in use and promoted it, and the
older generations were walked again and again: measured on the consent service's path
(``ehx bench``'s city, batches of 500), 500 µs an event at the default and 430 µs with
these thresholds, the same as with the collector switched off. Garbage is still freed
by reference counting at once; only cycles wait a little longer.
"""

from __future__ import annotations

import gc
from typing import Any


def _freeze_survivors(phase: str, info: dict[str, Any]) -> None:
    if phase == "stop" and info.get("generation") == 2:
        gc.freeze()


#: Allocations before a young collection; young collections before an older one; and
#: older before a full one.
THRESHOLDS = (50_000, 20, 10)


def release_frozen() -> None:
    """Walk everything again once, freeing cycles among what was frozen, then re-freeze.

    For one process that runs independent jobs in turn (``ehx bench``'s suites): what
    one job left behind in a frozen cycle would otherwise stay for every later one (seen:
    the replay's resident memory 670 MB after the other suites, 215 MB alone).
    """
    gc.unfreeze()
    gc.collect()


def keep_long_lived_out_of_collections() -> None:
    """Install the freeze-after-full-collection hook and the thresholds (once per process)."""
    gc.set_threshold(*THRESHOLDS)
    if _freeze_survivors not in gc.callbacks:
        gc.callbacks.append(_freeze_survivors)
