"""The intake service: verify raw events' signatures, quarantine the bad, keep the good.

No pure rules of its own: ``intake.service`` subscribes, ``intake.store`` keeps.
"""

__all__: list[str] = []
