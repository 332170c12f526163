"""Recipients' family timelines: the store, reading with keys, the service, and rebuild."""

from timeline.reading import Entry, audit_record, basis_text, describe, open_entry
from timeline.service import SHARE_TOPICS, rebuild, register_timeline
from timeline.store import (
    Applied,
    TimelinePage,
    TimelineQuery,
    TimelineStore,
    UnknownEntry,
    parse_message,
)

__all__ = [
    "SHARE_TOPICS",
    "Applied",
    "Entry",
    "TimelinePage",
    "TimelineQuery",
    "TimelineStore",
    "UnknownEntry",
    "audit_record",
    "basis_text",
    "describe",
    "open_entry",
    "parse_message",
    "rebuild",
    "register_timeline",
]
