"""When the law allows a person's information to be erased (pure rules).

Safeguarding holds information under a legal obligation and a task in the public
interest, where UK GDPR Art. 17(3)(b) lets a controller refuse erasure. The refusals
here are the clear cases a DPO would refuse without weighing: the MASH is screening a
concern about the family; a case is open (a case decision within the policy's months);
an override that shared about them awaits its review; a school has not yet acknowledged
an Operation Encompass notification about them. Anything else is the DPO's judgement,
which ``--reason`` records.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from ehx.consent.policy import Erasure


@dataclass(frozen=True)
class Standing:
    """What is on file about a person that bears on erasing them."""

    #: (alert id, raised at) of alerts about their family still being screened.
    open_alerts: list[tuple[str, datetime]] = field(default_factory=list)
    #: (alert id, decision, decided at) of screening decisions about their family.
    decisions: list[tuple[str, str, datetime]] = field(default_factory=list)
    #: (event id, review due) of overrides that shared about them, not yet reviewed.
    reviews_due: list[tuple[str, datetime]] = field(default_factory=list)
    #: Operation Encompass notifications about them a school has not acknowledged.
    unacknowledged: int = 0


def refusal(standing: Standing, rules: Erasure, now: datetime) -> str | None:
    """Why the law does not allow erasing them now, in a DPO's words; None if it may."""
    if standing.open_alerts:
        alert_id, raised = standing.open_alerts[0]
        return (
            f"the MASH is screening a concern about their family ({alert_id}, raised "
            f"{raised:%d %b %Y}): information needed to protect a child cannot be erased "
            "while it is screened (UK GDPR Art. 17(3)(b))"
        )
    since = now - timedelta(days=round(rules.case_open_months * 30.44))
    for alert_id, decision, at in standing.decisions:
        if decision in rules.case_decisions and at >= since:
            return (
                f"a case about their family is open: {decision.replace('_', ' ')} decided "
                f"{at:%d %b %Y} ({alert_id}), within the {rules.case_open_months} months the "
                "policy treats as open (UK GDPR Art. 17(3)(b)); ask again once the case is "
                "closed"
            )
    if standing.reviews_due:
        event_id, due = standing.reviews_due[0]
        return (
            f"information about them was shared with the MASH under a significant-harm "
            f"override (event {event_id}) whose review is due {due:%d %b %Y}: the review "
            "must be able to see what was shared"
        )
    if standing.unacknowledged:
        return (
            f"{standing.unacknowledged} Operation Encompass notification(s) about them are "
            "not yet acknowledged by a school: a statutory notice cannot be erased unread"
        )
    return None
