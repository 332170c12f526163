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

A service that consumes in batches goes further (``collect_between_batches``): even at
50,000, a young collection that falls inside a batch walks the whole batch still in use
(on the consent service's path, the latency benchmark's incidents: 12 young collections
in 5,000 events, 30 to 85 ms each, 100 µs an event). So it collects the young generation
itself between batches, the older generations every 20th and 200th batch; the automatic
collector is left only as a backstop for a batch far larger than usual. It collects as
each batch begins (``before_batch``), not as the last one's handler returns: at that
moment the thread pool's worker still held the handler's last work item (the consent
service's outbox, tens of thousands of objects), so each collection walked the batch
it was meant to come after. Measured at 1,000 records/s (the latency benchmark, two
rounds alternated): consent's young collections 650 and 632 ms in all -> 107 and 75 ms,
the timeline's 259 and 308 -> 143 and 88 ms; alert p99 4.9 and 4.6 s -> 3.2 and 3.0 s.

How long each collection stops a process is the figure that says whether these choices
still hold: ``record_stops`` times every collection from then on, and a service asked to
(``EHX_COLLECTOR_REPORTS``) writes them out as it stops, for ``ehx bench --suite latency``
to set beside the alert latency.
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
THRESHOLDS = (50_000, 20, 10)


def freeze_start_up() -> None:
    """Walk what start-up built once, now, and leave it out of every later collection.

    A service's modules, SQLAlchemy's metadata, the policy and the linker's identity
    index are otherwise walked by its first full collection, the 200th batch, while
    records wait behind it: measured at 300 records/s (the latency benchmark's collector
    stops), each service's one full collection in the run was its longest stop, 150 to
    320 ms. Now, before the first record, nothing waits.
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


#: With ``collect_between_batches``: young objects before an automatic collection.
BACKSTOP = 1_000_000
#: ``before_batch`` collects the middle generation every this many batches, and everything
#: (then frozen) every ``FULL_EVERY``.
MIDDLE_EVERY = 20
FULL_EVERY = 200


class _Batches:
    count = 0


def collect_between_batches() -> None:
    """For a process that consumes in batches and calls ``before_batch`` as each begins."""
    keep_long_lived_out_of_collections()
    gc.set_threshold(BACKSTOP, *THRESHOLDS[1:])


def before_batch() -> int:
    """Collect now, between batches, when little is young; returns the generation collected."""
    _Batches.count += 1
    if _Batches.count % FULL_EVERY == 0:
        generation = 2
    elif _Batches.count % MIDDLE_EVERY == 0:
        generation = 1
    else:
        generation = 0
    gc.collect(generation)
    return generation
