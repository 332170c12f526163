"""Background services wait for a free CPU before each batch, where they share a machine.

The intake store and the audit ledger are off the alert's path: nothing waits for them.
Where they share a machine's cores with the alert's path (the embedded default, and any
one-machine deployment), ``nice`` 19 was meant to make them give way in a burst, and it
does not: measured at 1,000 records/s for 10 s (``/proc/PID/schedstat`` over the burst),
the two still ran 2.9 s of the 20 s of CPU two cores give (the kernel lets a task it
picks run its slice out before a waking one preempts it, whatever its weight), and the
alert p99 was 2.2 to 3.2 s with them running against 0.67 to 1.2 s without them.

So such a process also waits, before each batch, while the kernel's pressure stall
information says tasks are queueing for a CPU (``/proc/pressure/cpu``, "some": the share
of time in which at least one runnable task was waiting): at 1,000 records/s that share
was 60 to 100% through the burst, and 3 to 6% on an idle or lightly loaded machine. It
waits at most ``longest`` seconds a batch, so under a load that never lets up it still
moves (and falls behind, as a machine too small for its load must); after a burst it
catches up. Where the kernel does not say (no PSI: another OS, or a kernel without it),
it does not wait, and only ``nice`` remains.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

#: Linux's pressure stall information for the CPU (kernel 4.20 and later, ``psi=1``).
PRESSURE = Path("/proc/pressure/cpu")


def stalled_microseconds(path: Path = PRESSURE) -> int | None:
    """Microseconds so far in which some runnable task waited for a CPU; None if unknown."""
    try:
        text = path.read_text()
    except OSError:
        return None
    for line in text.splitlines():
        if line.startswith("some "):
            return int(line.rsplit("total=", 1)[1])
    return None


class CpuTurns:
    """Waits, before a background batch, until the CPU has not been contended for a look.

    ``busy_share``: the share of a look's time in which some task waited, above which the
    CPU counts as contended. ``look``: how long each look lasts (seconds). ``longest``: the
    longest wait for one batch.
    """

    def __init__(
        self,
        busy_share: float = 0.25,
        look: float = 0.1,
        longest: float = 5.0,
        read: Callable[[], int | None] = stalled_microseconds,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.busy_share, self.look, self.longest = busy_share, look, longest
        self._read, self._clock, self._sleep = read, clock, sleep
        self._last: tuple[float, int] | None = None
        self._verdict: bool | None = None
        #: Seconds waited in all, and how many batches waited: what giving way cost (a
        #: service process logs them as it stops).
        self.waited = 0.0
        self.waits = 0

    def _contended(self, at: float, stalled: int) -> bool | None:
        """Whether the time since the last reading was contended (None: too short to say)."""
        last = self._last
        if last is None:
            self._last = (at, stalled)
            return None
        if at - last[0] < self.look / 2:
            # Too soon to measure again (batches back to back, catching up): the last
            # verdict stands, and the next measures from the older reading.
            return self._verdict
        self._last = (at, stalled)
        self._verdict = (stalled - last[1]) / 1e6 > self.busy_share * (at - last[0])
        return self._verdict

    async def wait_turn(self) -> float:
        """Wait while the CPU is contended, at most ``longest``; the seconds waited."""
        began = self._clock()
        stalled = self._read()
        if stalled is None:
            return 0.0
        # Measured from the last reading, however old: after an idle spell the first batch
        # of a burst may go at once; the next, measured over a short time, waits.
        if self._contended(began, stalled) is False:
            return 0.0
        waited = 0.0
        while waited < self.longest:
            await self._sleep(self.look)
            stalled = self._read()
            waited = self._clock() - began
            if stalled is None or self._contended(self._clock(), stalled) is False:
                break
        self.waited += waited
        self.waits += 1
        return waited


class _Process:
    turns: CpuTurns | None = None


def wait_for_free_cpu(turns: CpuTurns | None) -> None:
    """Make every batch subscriber in this process wait its turn (``take_turn``); None:
    no longer wait."""
    _Process.turns = turns


def current() -> CpuTurns | None:
    """This process's turns, if it waits for them."""
    return _Process.turns


async def take_turn() -> None:
    """Before a batch: wait for a free CPU if this process gives way, else at once."""
    if _Process.turns is not None:
        await _Process.turns.wait_turn()
