"""What the timeline service does after each batch: raise alerts and Encompass notifications.

It runs in the timeline service, after the batch is stored and before its offset is
committed, so an alert is never raised on a view the timeline has not kept, and a crash
replays both (raising is idempotent: an alert is filled in, not raised twice).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from alerts.store import AlertStore
from broker.topics import Recipient
from consent.policy import Policy
from schemas.views import Retraction, ShareView
from timeline.store import TimelineStore

#: The recipients whose views the MASH screening team works from.
SCREENING = (Recipient.MASH.value, Recipient.EARLY_HELP.value)


@dataclass
class AlertDesk:
    alerts: AlertStore
    timeline: TimelineStore
    policy: Policy

    def after(self, messages: Sequence[ShareView | Retraction], now: datetime) -> list[str]:
        """Raise or fill in alerts for the families these messages touched; changed ids."""
        families = sorted({m.family_id for m in messages if m.recipient in SCREENING})
        views = self.timeline.family_views(SCREENING, families)
        changed = self.alerts.refresh_all(views, now, self.policy.override_review_hours)
        notices = [
            m
            for m in messages
            if isinstance(m, ShareView) and m.recipient == Recipient.SCHOOLS.value
        ]
        self.alerts.notify(notices, self.policy.operation_encompass)
        return changed
