"""The intake service: verify raw events' signatures, quarantine the bad, keep the good."""

from intake.service import GROUP, check, register_intake
from intake.store import IntakeStore, ReceivedEvent

__all__ = ["GROUP", "IntakeStore", "ReceivedEvent", "check", "register_intake"]
