"""What the timeline service does after each batch: raise alerts and Encompass notifications.

It runs in the timeline service, after the batch is stored and before its offset is
committed, so an alert is never raised on a view the timeline has not kept, and a crash
replays both (raising is idempotent: an alert is filled in, not raised twice).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from alerts.store import AlertStore
from broker.topics import Recipient
from consent.policy import Policy
from schemas.views import Retraction, ShareView
from timeline.store import TimelineStore

#: The recipients whose views the MASH screening team works from.
SCREENING = (Recipient.MASH.value, Recipient.EARLY_HELP.value)


#: Screening views kept validated between batches (a family's earlier views are read
#: again whenever it has a new one); about 2 KB each. Only the screening recipients':
#: the schools' views pass through for Operation Encompass and are never read back, and
#: when they were kept too they took about half the places.
VIEWS_KEPT = 20_000


@dataclass
class AlertDesk:
    alerts: AlertStore
    timeline: TimelineStore
    policy: Policy
    _views: OrderedDict[tuple[str, str, int], ShareView] = field(default_factory=OrderedDict)

    def after(self, messages: Sequence[ShareView | Retraction], now: datetime) -> list[str]:
        """Raise or fill in alerts for the families these messages touched; changed ids."""
        families = sorted({m.family_id for m in messages if m.recipient in SCREENING})
        for m in messages:  # validated already by the timeline service
            if isinstance(m, ShareView) and m.recipient in SCREENING:
                self._views[(m.recipient, str(m.event_id), m.revision)] = m
        views = self.timeline.family_views(SCREENING, families, self._views)
        while len(self._views) > VIEWS_KEPT:
            self._views.popitem(last=False)
        changed = self.alerts.refresh_all(views, now, self.policy.override_review_hours)
        notices = [
            m
            for m in messages
            if isinstance(m, ShareView) and m.recipient == Recipient.SCHOOLS.value
        ]
        self.alerts.notify(notices, self.policy.operation_encompass)
        return changed
