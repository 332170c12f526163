"""MASH alerts: Think Family and significant harm with a suggested level of need, and
Operation Encompass notifications with their school-day deadlines."""

from alerts.desk import AlertDesk
from alerts.encompass import Escalation, SchoolCalendar, escalation_due
from alerts.needs import FamilyPicture, LevelOfNeed, picture, suggest_level
from alerts.store import (
    AlertKind,
    AlertNotFound,
    AlertStatus,
    AlertStore,
    ScreeningDecision,
    sweep_escalations,
)

__all__ = [
    "AlertDesk",
    "AlertKind",
    "AlertNotFound",
    "AlertStatus",
    "AlertStore",
    "Escalation",
    "FamilyPicture",
    "LevelOfNeed",
    "SchoolCalendar",
    "ScreeningDecision",
    "escalation_due",
    "picture",
    "suggest_level",
    "sweep_escalations",
]
