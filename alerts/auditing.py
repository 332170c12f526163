"""What the alert queue tells the auditor: who looked at the queue, who decided an alert."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from ehx.schemas.audit import Action, AuditRecord


def queue_read(
    rows: Sequence[Mapping[str, Any]], actor: str, role: str, agency: str, at: datetime
) -> AuditRecord:
    """A look at the queue: which families' alerts, and which events behind them, were shown."""
    return AuditRecord(
        action=Action.ALERTS_READ,
        actor=actor,
        role=role,
        agency=agency,
        purpose="screening",
        subject_ids=tuple(sorted({str(r["family_id"]) for r in rows})),
        event_ids=tuple(sorted({str(e) for r in rows for e in r.get("event_ids", ())})),
        at=at,
    )


def decided(
    alert: Mapping[str, Any], actor: str, role: str, agency: str, at: datetime
) -> AuditRecord:
    return AuditRecord(
        action=Action.ALERT_DECIDED,
        actor=actor,
        role=role,
        agency=agency,
        purpose=f"screening decision: {alert.get('decision')}",
        family_id=str(alert["family_id"]),
        event_ids=tuple(str(e) for e in alert.get("event_ids", ())),
        bases=(str(alert["alert_id"]),),
        at=at,
    )
