"""Refusals on the ledger, counted per caller and minute rather than one entry each.

A probe sent 2,000 junk requests and the ledger grew 2,000 entries: an attacker could
bury the entries that matter. The first refusal of a caller in a minute is recorded at
once, with its path and reason (so an attack shows immediately); the rest of that
minute are counted, and the count goes on the ledger as one entry when the minute is
over (at the next refusal after it, or when the server stops). A signed-in person or a
known token is counted per path, so each page they tried is on the ledger by name.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

#: Who was refused, as the ledger names them (actor, role, agency), the answer, and the
#: path for a caller who is identified (each page a person tried is on the ledger; an
#: anonymous flood of random paths is one count).
Caller = tuple[str, str, str, int, str]


@dataclass
class RefusalTally:
    """Per caller, the minute being counted and how many refusals after the first."""

    _minute: dict[Caller, datetime] = field(default_factory=dict)
    _more: dict[Caller, int] = field(default_factory=dict)

    def note(self, caller: Caller, now: datetime) -> bool:
        """Count a refusal; True if it is the caller's first this minute (record it)."""
        minute = now.replace(second=0, microsecond=0)
        if self._minute.get(caller) == minute:
            self._more[caller] = self._more.get(caller, 0) + 1
            return False
        self._minute[caller] = minute
        return True

    def due(self, now: datetime | None = None) -> list[tuple[Caller, datetime, int]]:
        """Counts of minutes that are over (all of them when ``now`` is None), taken out."""
        minute = now.replace(second=0, microsecond=0) if now else None
        done = [c for c, at in self._minute.items() if minute is None or at < minute]
        found = []
        for caller in done:
            at = self._minute.pop(caller)
            more = self._more.pop(caller, 0)
            if more:
                found.append((caller, at, more))
        return found
