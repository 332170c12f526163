"""MASH alerts' rules: Think Family and significant harm with a suggested level of need, and
Operation Encompass notifications with their school-day deadlines.

Pure (no database). ``alerts.desk`` raises them and ``alerts.store`` keeps them.
"""

from ehx.alerts.encompass import Escalation, SchoolCalendar, escalation_due
from ehx.alerts.needs import FamilyPicture, LevelOfNeed, picture, suggest_level

__all__ = [
    "Escalation",
    "FamilyPicture",
    "LevelOfNeed",
    "SchoolCalendar",
    "escalation_due",
    "picture",
    "suggest_level",
]
