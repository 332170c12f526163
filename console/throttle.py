"""Sign-in throttling: a name or an address that keeps failing is locked out for a while.

Five wrong passwords for one name within fifteen minutes lock that name for fifteen
minutes; thirty from one address (an office behind one router is many people) lock the
address. A right password clears the name's count. Counts are kept by each ``ehx serve``
process: with several behind a load balancer, an attacker gets that many more tries.
"""

from __future__ import annotations

from collections import defaultdict, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

WINDOW = timedelta(minutes=15)
LOCKOUT = timedelta(minutes=15)
#: Failures allowed within the window, by what is counted.
LIMITS = {"name": 5, "address": 30}
#: Names and addresses remembered before the stale ones are forgotten.
PRUNE_AT = 10_000


@dataclass
class LoginThrottle:
    """Failures by (``name`` or ``address``, value); ``clock`` says what time it is."""

    clock: Callable[[], datetime]
    failures: dict[tuple[str, str], deque[datetime]] = field(
        default_factory=lambda: defaultdict(deque)
    )
    locked: dict[tuple[str, str], datetime] = field(default_factory=dict)

    def locked_until(self, keys: Iterable[tuple[str, str]]) -> datetime | None:
        """The latest time any of ``keys`` is locked until, or None if none is locked."""
        now = self.clock()
        until = [self.locked[k] for k in keys if k in self.locked and self.locked[k] > now]
        return max(until) if until else None

    def failed(self, keys: Iterable[tuple[str, str]]) -> None:
        now = self.clock()
        if len(self.failures) + len(self.locked) > PRUNE_AT:
            self._prune(now)
        for key in keys:
            seen = self.failures[key]
            seen.append(now)
            while seen and seen[0] <= now - WINDOW:
                seen.popleft()
            if len(seen) >= LIMITS[key[0]]:
                self.locked[key] = now + LOCKOUT
                seen.clear()

    def succeeded(self, name: str) -> None:
        self.failures.pop(("name", name), None)

    def _prune(self, now: datetime) -> None:
        """Forget failures out of the window and locks that have lifted: a spray of
        invented names must not grow the counts without end."""
        for key in [k for k, seen in self.failures.items() if not seen or seen[-1] <= now - WINDOW]:
            del self.failures[key]
        for key in [k for k, until in self.locked.items() if until <= now]:
            del self.locked[key]
