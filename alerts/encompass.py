"""Operation Encompass: when a key adult must know, and who is told if they do not.

Due before the start of the next school day (08:30 local time by default), skipping
weekends and the school holidays in the policy. Unacknowledged at the deadline, the
notification escalates to the school's deputy; still unacknowledged a set time later,
to the local authority. A child not on a school roll goes to the local authority at once.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from ehx.consent.policy import SchoolCalendar
from ehx.schemas.vocabulary import Addressee, Recipient


class Escalation(StrEnum):
    NONE = "none"
    DEPUTY = "deputy"
    LOCAL_AUTHORITY = "local_authority"


__all__ = ["Escalation", "SchoolCalendar", "acknowledgers", "escalation_due"]


def acknowledgers(school_urn: str | None, escalation: str) -> tuple[str, ...]:
    """Who may acknowledge a notification, as accounts act for them: its school's people
    (``school:103512``); and, once it is the local authority's (the child on no roll we
    hold, or unmet past the deputy), the local authority's Operation Encompass officer."""
    who: tuple[str, ...] = (str(Addressee(Recipient.SCHOOLS, school_urn)),) if school_urn else ()
    if escalation == Escalation.LOCAL_AUTHORITY:
        who += (Escalation.LOCAL_AUTHORITY.value,)
    return who


def escalation_due(
    calendar: SchoolCalendar, due_at: datetime, now: datetime, current: Escalation
) -> Escalation:
    """Where an unacknowledged notification should be by ``now``."""
    if current is Escalation.LOCAL_AUTHORITY or now < due_at:
        return current
    if now >= due_at + calendar.local_authority_after:
        return Escalation.LOCAL_AUTHORITY
    return Escalation.DEPUTY
