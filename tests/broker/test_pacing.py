"""Background services wait for a free CPU before each batch, and never wait for ever."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import pytest
from faststream.kafka import KafkaBroker, TestKafkaBroker

from broker import pacing
from broker.consuming import batch_subscriber


class Machine:
    """A kernel's stall counter and a clock: each look of ``look`` seconds adds the stall
    the next entry of ``busy`` says (the share of that look in which tasks queued)."""

    def __init__(self, busy: list[float], look: float = 0.1) -> None:
        self.busy, self.look = list(busy), look
        self.now, self.stalled, self.sleeps = 0.0, 0, 0

    def read(self) -> int:
        return self.stalled

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        share = self.busy.pop(0) if self.busy else 0.0
        self.now += seconds
        self.stalled += int(share * seconds * 1e6)
        self.sleeps += 1

    def turns(self, longest: float = 5.0) -> pacing.CpuTurns:
        return pacing.CpuTurns(
            0.25, self.look, longest, read=self.read, clock=self.clock, sleep=self.sleep
        )


async def test_waits_while_tasks_queue_for_the_cpu_and_goes_once_they_do_not() -> None:
    machine = Machine(busy=[0.9, 0.8, 0.6, 0.1])
    turns = machine.turns()
    waited = await turns.wait_turn()
    # The first look has nothing to compare with; the next three were contended; the
    # fourth was not.
    assert machine.sleeps == 4
    assert waited == pytest.approx(0.4)
    assert turns.waits == 1
    assert turns.waited == pytest.approx(0.4)


async def test_a_quiet_machine_costs_a_batch_no_wait_once_it_has_a_reading() -> None:
    machine = Machine(busy=[0.05])
    turns = machine.turns()
    await turns.wait_turn()  # the first reading
    machine.now += 0.3  # the batch ran; 3% of its time something queued
    machine.stalled += 9_000
    assert await turns.wait_turn() == 0.0
    assert machine.sleeps == 1  # only the first batch's look
    assert turns.waits == 1  # and only that batch counts as having waited


async def test_batches_back_to_back_keep_the_last_verdict_rather_than_look_each_time() -> None:
    machine = Machine(busy=[0.05])
    turns = machine.turns()
    await turns.wait_turn()
    for _ in range(5):  # catching up after a burst: each batch 20 ms, nothing queued
        machine.now += 0.02
        assert await turns.wait_turn() == 0.0
    assert machine.sleeps == 1


async def test_never_waits_longer_than_the_longest_wait_under_a_load_that_never_lets_up() -> None:
    machine = Machine(busy=[1.0] * 1_000)
    waited = await machine.turns(longest=2.0).wait_turn()
    assert 2.0 <= waited < 2.0 + machine.look + 1e-9


async def test_where_the_kernel_does_not_say_it_never_waits() -> None:
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    turns = pacing.CpuTurns(read=lambda: None, sleep=sleep)
    assert await turns.wait_turn() == 0.0
    assert slept == []


def test_reads_the_kernels_pressure_file_and_says_none_without_one(tmp_path: Path) -> None:
    file = tmp_path / "cpu"
    file.write_text(
        "some avg10=0.28 avg60=16.20 avg300=26.03 total=244665829\n"
        "full avg10=0.00 avg60=0.00 avg300=0.00 total=0\n"
    )
    assert pacing.stalled_microseconds(file) == 244_665_829
    assert pacing.stalled_microseconds(tmp_path / "missing") is None


@pytest.mark.skipif(not pacing.PRESSURE.exists(), reason="this kernel has no /proc/pressure/cpu")
def test_the_kernels_counter_is_read_and_only_grows() -> None:
    first = pacing.stalled_microseconds()
    assert first is not None
    second = pacing.stalled_microseconds()
    assert second is not None and second >= first


async def test_a_background_process_handles_no_batch_until_the_cpu_is_free() -> None:
    machine = Machine(busy=[0.9, 0.9, 0.9, 0.0])
    handled: list[int] = []
    broker = KafkaBroker()

    @batch_subscriber(broker, "ehx.test.pacing", group_id="t", session_timeout_ms=6_000)
    async def handle(message: object) -> None:
        handled.append(machine.sleeps)

    pacing.wait_for_free_cpu(machine.turns())
    try:
        async with TestKafkaBroker(broker) as test_broker:
            await test_broker.publish_batch(b"a", b"b", topic="ehx.test.pacing")
            await asyncio.sleep(0)
    finally:
        pacing.wait_for_free_cpu(None)
    assert handled == [4]  # after the fourth look: the first free one


def _turns_after(only: str, share: str) -> str:
    script = (
        "from broker import pacing; from broker.app import give_way;"
        f" give_way(frozenset({only!r}.split(',')) if {only!r} else None);"
        " t = pacing.current(); print(t and (t.busy_share, t.longest))"
    )
    env = {**os.environ, "EHX_BACKGROUND_WAIT_SHARE": share, "EHX_BACKGROUND_NICE": "0"}
    out = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True
    )
    return out.stdout.strip()


def test_only_a_process_of_background_services_waits_for_a_free_cpu() -> None:
    assert _turns_after("audit", "0.25") == "(0.25, 5.0)"
    assert _turns_after("intake,audit", "0.3") == "(0.3, 5.0)"
    assert _turns_after("consent", "0.25") == "None"
    assert _turns_after("", "0.25") == "None"  # all the services in one process
    assert _turns_after("audit", "0") == "None"  # an operator switched it off
