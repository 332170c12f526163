"""What the timeline service does after each batch: raise alerts and Encompass notifications.

It runs in the timeline service, after the batch is stored and before its offset is
committed, so an alert is never raised on a view the timeline has not kept, and a crash
replays both (raising is idempotent: an alert is filled in, not raised twice).
"""

from __future__ import annotations

from collections import ChainMap, OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from ehx.alerts.store import AlertStore
from ehx.consent.policy import Policy
from ehx.schemas.views import Retraction, ShareView
from ehx.schemas.vocabulary import Recipient, holds_for
from ehx.timeline.store import TimelineStore

#: The recipients whose views the MASH screening team works from.
SCREENING = (Recipient.MASH.value, Recipient.EARLY_HELP.value)


#: Views kept validated between batches, about 2 KB each: those of families that came
#: back (a family's earlier views are read again whenever it has a new one). A batch's
#: own views are used as they came and not kept: most families are seen once, and each
#: view kept is walked by every generation of the collector before it is frozen, which
#: in the timeline service was the longest stop of all (docs/performance.md).
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
        batch = {  # validated already by the timeline service
            (m.recipient, str(m.event_id), m.revision): m
            for m in messages
            if isinstance(m, ShareView) and m.recipient in SCREENING
        }
        # Earlier views it reads are validated once and kept (new keys go to the first map).
        views = self.timeline.family_views(SCREENING, families, ChainMap(self._views, batch))
        while len(self._views) > VIEWS_KEPT:
            self._views.popitem(last=False)
        changed = self.alerts.refresh_all(views, now, self.policy.screening)
        notices = [
            m
            for m in messages
            if isinstance(m, ShareView) and holds_for(m.recipient, Recipient.SCHOOLS)
        ]
        self.alerts.notify(notices, self.policy.operation_encompass, count=False)
        return changed
