"""Keep the cyclic garbage collector's full passes short in a long-running service.

A service holds large, long-lived state (the linker's identity index, the consent
engine's key cache). After each full collection whatever survived it is frozen
(``gc.freeze``), so later passes walk only what arrived since, and the young generation
is collected every 1,000,000 allocations rather than 700, so a batch of a thousand
records still in use is not walked again and again (why, with the figures:
docs/decisions/0003-garbage-collector.md). ``record_stops`` times each collection, for
``ehx bench --suite latency``.
"""

from __future__ import annotations

import gc
import time
from typing import Any, NamedTuple


def _freeze_survivors(phase: str, info: dict[str, Any]) -> None:
    if phase == "stop" and info.get("generation") == 2:
        gc.freeze()


#: Allocations before a young collection; young collections before an older one; and
#: older before a full one.
THRESHOLDS = (1_000_000, 20, 10)


def freeze_start_up() -> None:
    """Walk what start-up built once, now, and leave it out of every later collection.

    A service's modules, SQLAlchemy's metadata, the policy and the linker's identity
    index would otherwise be walked by a full collection while records wait behind it
    (docs/decisions/0003-garbage-collector.md).
    """
    gc.collect()
    gc.freeze()


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


class Stop(NamedTuple):
    """One collection: when it started (epoch seconds), its generation, how long (s), and
    how many unreachable objects it found and freed (a long stop that freed many was
    spent on garbage; one that freed few, on walking what is still in use)."""

    at: float
    generation: int
    seconds: float
    collected: int


_stops: list[Stop] = []
_started = [0.0, 0.0]  # the collection under way: epoch and perf-counter seconds


def _time_stops(phase: str, info: dict[str, Any]) -> None:
    if phase == "start":
        _started[0], _started[1] = time.time(), time.perf_counter()
    else:
        seconds = time.perf_counter() - _started[1]
        _stops.append(Stop(_started[0], info["generation"], seconds, info["collected"]))


def record_stops() -> list[Stop]:
    """Time every collection from now on; the list returned fills as they happen.

    Only where asked for (a benchmark): a service left running would keep a row a batch.
    """
    if _time_stops not in gc.callbacks:
        gc.callbacks.insert(0, _time_stops)  # first, so the freeze hook's work is timed too
    return _stops
