"""Recipients' family timelines: the store, reading with keys, the service, and rebuild."""

from timeline.reading import Entry, audit_record, basis_text, describe, open_entry
from timeline.service import SHARE_TOPICS, rebuild, register_timeline
from timeline.store import Applied, TimelineQuery, TimelineStore, parse_message

__all__ = [
    "SHARE_TOPICS",
    "Applied",
    "Entry",
    "TimelineQuery",
    "TimelineStore",
    "audit_record",
    "basis_text",
    "describe",
    "open_entry",
    "parse_message",
    "rebuild",
    "register_timeline",
]
