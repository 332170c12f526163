"""Logging that cannot leak a record: the Kafka client's wire logging is capped at INFO.

aiokafka's DEBUG lines quote message keys and values ("Sending (key=... value=...)",
fetch responses), and a value is a record: names, dates of birth, NHS numbers. So
however verbose an operator makes the root logger, those lines are never emitted.
"""

from __future__ import annotations

import logging

#: Libraries whose DEBUG output quotes message contents.
WIRE_LOGGERS = ("aiokafka",)


def protect_logs() -> None:
    """Cap the wire loggers at INFO (idempotent; call before any client starts)."""
    for name in WIRE_LOGGERS:
        logger = logging.getLogger(name)
        if logger.level < logging.INFO:  # NOTSET (0) would inherit a DEBUG root
            logger.setLevel(logging.INFO)
