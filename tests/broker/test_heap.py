"""A service's long-lived state is walked by one full collection, not by every one."""

from __future__ import annotations

import gc
import itertools
import time
import weakref

from ehx.broker import heap


def test_what_survives_a_full_collection_is_not_walked_again_and_is_still_freed() -> None:
    class Held:
        pass

    before = gc.get_threshold()
    heap.keep_long_lived_out_of_collections()
    heap.keep_long_lived_out_of_collections()  # idempotent: one hook however often called
    try:
        # A batch's worth of young objects is not walked while it is still being built.
        assert gc.get_threshold()[0] >= 50_000
        assert gc.callbacks.count(heap._freeze_survivors) == 1
        state = [Held() for _ in range(1000)]
        gc.collect()
        frozen = gc.get_freeze_count()
        assert frozen >= len(state)
        # Frozen, not leaked: dropping the last reference frees the objects at once.
        del state
        assert gc.get_freeze_count() < frozen - 900
    finally:
        gc.callbacks.remove(heap._freeze_survivors)
        gc.unfreeze()
        gc.set_threshold(*before)


def test_a_cycle_frozen_then_dropped_is_freed_when_the_next_job_releases_the_frozen() -> None:
    class Node:
        other: Node

    before = gc.get_threshold()
    heap.keep_long_lived_out_of_collections()
    try:
        a, b = Node(), Node()
        a.other, b.other = b, a  # a cycle: reference counting alone never frees it
        gone = weakref.ref(a)
        gc.collect()  # survives, and is frozen
        del a, b
        gc.collect()
        assert gone() is not None  # frozen: an ordinary collection does not walk it
        heap.release_frozen()
        assert gone() is None
    finally:
        gc.callbacks.remove(heap._freeze_survivors)
        gc.unfreeze()
        gc.set_threshold(*before)


def test_a_benchmark_sees_how_long_each_collection_stopped_the_process() -> None:
    class Node:
        other: Node

    stops = heap.record_stops()
    try:
        nodes = [Node() for _ in range(20_000)]
        for a, b in itertools.pairwise(nodes):
            a.other = b
        before, started = len(stops), time.time()
        gc.collect(2)
        gc.collect(0)
        new = stops[before:]
        assert [s.generation for s in new] == [2, 0]
        assert all(started - 1 < s.at <= time.time() for s in new)
        # The full pass walked the 20,000 nodes; the young one after it, almost nothing.
        assert new[0].seconds > new[1].seconds > 0
        # And it says how much it freed: dropped cycles are found by the next collection.
        pairs = [(Node(), Node()) for _ in range(1000)]
        for a, b in pairs:
            a.other, b.other = b, a
        del pairs, a, b
        gc.collect(2)
        assert stops[-1].collected >= 2000
    finally:
        gc.callbacks.remove(heap._time_stops)


def test_what_start_up_built_is_left_out_of_every_later_collection() -> None:
    class Index:
        pass

    index = [Index() for _ in range(10_000)]  # a service's state, built before it consumes
    try:
        heap.freeze_start_up()
        # No generation holds them any more: no collection walks them again ...
        assert not any(isinstance(o, Index) for o in gc.get_objects())
        # ... and they are still there, freed as usual once nothing refers to them.
        frozen = gc.get_freeze_count()
        del index
        assert gc.get_freeze_count() <= frozen - 10_000
    finally:
        gc.unfreeze()
