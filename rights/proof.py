"""The proof that what a sweep or an erasure removed can no longer be read anywhere.

It reads every table (but ``removals``, which holds the salted hashes it looks for) and
every message on every topic, opening each sealed box whose key is still held, and
reports each place where a removed item, or anything identifying an erased person,
can still be read:

- a removed item: a row about it, or a message about it whose content (a canonical
  event, or a view whose sealed parts still open) is readable;
- an erased person: their name with their date of birth, or one of their identifiers
  (``fingerprints``), in any row, message or open box.

What a topic keeps only for a while (the agencies' inbound topics, ``ehx.linked``, the
quarantine) is reported with the day its retention deletes it; the verdict fails only
for what stays readable. A view whose keys were destroyed is its envelope (ids, event
type, categories, dates): nothing in it names anyone.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import orjson
from sqlalchemy import Engine, select

from ehx.broker.reading import read_from_start
from ehx.broker.settings import BrokerSettings
from ehx.broker.topics import FOREVER, SPECS
from ehx.consent.keys import KeyDestroyed, KeyVault, open_box
from ehx.consent.views import seal_context
from ehx.database import metadata, removals
from ehx.rights.fingerprints import prints_in
from ehx.rights.removal import Removals
from ehx.schemas.views import SealedBox

#: Tables the proof does not read: the removals' own record (it holds the hashes).
NOT_READ = frozenset({removals.name})
#: Recipients' own stores: an entry removed from one is looked for there.
RECIPIENT_STORES = frozenset({"timeline_entries", "timeline_people"})


@dataclass(frozen=True)
class Finding:
    place: str
    what: str
    #: The day the topic's retention deletes it; None: it stays until someone acts.
    until: datetime | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "place": self.place,
            "what": self.what,
            "until": self.until.date().isoformat() if self.until else None,
        }


@dataclass
class Proof:
    removal_id: str
    rows: int = 0
    tables: int = 0
    messages: int = 0
    topics: int = 0
    findings: list[Finding] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Nothing removed can be read, but what a topic's retention deletes on a date."""
        return all(f.until is not None for f in self.findings)

    @property
    def readable(self) -> list[Finding]:
        return [f for f in self.findings if f.until is None]

    def as_dict(self) -> dict[str, Any]:
        return {
            "removal_id": self.removal_id,
            "ok": self.ok,
            "tables": self.tables,
            "rows": self.rows,
            "topics": self.topics,
            "messages": self.messages,
            "readable": [f.as_dict() for f in self.readable],
            "until_retention": [f.as_dict() for f in self.findings if f.until is not None],
        }


@dataclass(frozen=True)
class Removed:
    """What one removal took away, as the proof looks for it."""

    removal_id: str
    #: Events gone from every store.
    events: frozenset[str]
    #: (recipient, event id): entries gone from one recipient's store.
    entries: frozenset[tuple[str, str]]
    #: Salted hashes of an erased person's names with birth date, and identifiers.
    prints: frozenset[str]

    @classmethod
    def of(cls, row: dict[str, Any]) -> Removed:
        items = row["items"]
        return cls(
            removal_id=row["removal_id"],
            events=frozenset(i["event_id"] for i in items if i.get("recipient") is None),
            entries=frozenset(
                (i["recipient"], i["event_id"]) for i in items if i.get("recipient") is not None
            ),
            prints=frozenset(row["fingerprints"]),
        )

    def about(self, event_id: object, recipient: object = None) -> bool:
        key = str(event_id)
        return key in self.events or (str(recipient), key) in self.entries

    def identifies(self, value: Any) -> bool:
        return bool(self.prints) and any(
            p in self.prints for p in prints_in(self.removal_id, value)
        )


def check_tables(engine: Engine, removed: Removed, proof: Proof) -> None:
    """Every row of every table: about a removed item, or identifying an erased person."""
    with engine.connect() as connection:
        for table in metadata.sorted_tables:
            if table.name in NOT_READ:
                continue
            proof.tables += 1
            has_event = "event_id" in table.c
            # A recipient's entry removed: its store; the decision to share it (ids and
            # bases, as the ledger keeps them) stays while another recipient holds it.
            by_entry = table.name in RECIPIENT_STORES
            for row in connection.execute(select(table)).mappings():
                proof.rows += 1
                recipient = row.get("recipient") if by_entry else None
                if has_event and removed.about(row["event_id"], recipient):
                    proof.findings.append(Finding(f"table {table.name}", "a removed item"))
                elif removed.identifies(_plain(dict(row))):
                    proof.findings.append(
                        Finding(f"table {table.name}", "the erased person's name or identifier")
                    )


async def check_topics(
    bootstrap: str,
    settings: BrokerSettings,
    vault: KeyVault,
    removed: Removed,
    proof: Proof,
    now: datetime,
) -> None:
    """Every message on every topic, each sealed box opened where a key is still held."""
    proof.topics = len(SPECS)
    async for records in read_from_start(bootstrap, settings, SPECS, purpose="proof"):
        for record in records:
            proof.messages += 1
            try:
                body = orjson.loads(record.value or b"null")
            except orjson.JSONDecodeError:
                body = (record.value or b"").decode(errors="replace")
            found = _finding(body, vault, removed)
            if found is None:
                continue
            spec = SPECS[record.topic]
            until = None
            if spec.retention_ms != FOREVER:
                written = datetime.fromtimestamp(record.timestamp / 1000, UTC)
                until = max(written + timedelta(milliseconds=spec.retention_ms), now)
            place = f"topic {record.topic} partition {record.partition} offset {record.offset}"
            proof.findings.append(Finding(place, found, until))


def _finding(body: Any, vault: KeyVault, removed: Removed) -> str | None:
    """What of the removal this message still shows, if anything."""
    if not isinstance(body, dict):
        return "the erased person's name or identifier" if removed.identifies(body) else None
    if body.get("kind") == "share":
        opened = _opened_view(body, vault)
        if removed.about(body.get("event_id"), body.get("recipient")) and opened:
            return "a removed item, its sealed parts still readable"
        if removed.identifies(opened):
            return "the erased person's name or identifier, in a sealed part still readable"
        return None
    if removed.about(body.get("event_id")) and "payload" in body:
        return "a removed item, readable (an event as an agency sent it)"
    if removed.identifies(body):
        return "the erased person's name or identifier"
    return None


def _opened_view(view: dict[str, Any], vault: KeyVault) -> list[Any]:
    """Every sealed part of a view that still opens."""
    event_id, recipient = view.get("event_id"), str(view.get("recipient"))
    boxes = [
        (f"person:{s.get('person_id')}", s.get("demographics")) for s in view.get("subjects", [])
    ]
    boxes += [("facts", view.get("facts")), ("details", view.get("details"))]
    opened = []
    for part, box in boxes:
        if not box:
            continue
        try:
            opened.append(
                open_box(
                    vault, SealedBox.model_validate(box), seal_context(event_id, recipient, part)
                )
            )
        except KeyDestroyed:
            continue
    return opened


def _plain(row: dict[str, Any]) -> dict[str, Any]:
    """A row as JSON-like values (dates as ISO text, bytes decoded)."""
    return {k: _value(v) for k, v in row.items()}


def _value(value: Any) -> Any:
    if isinstance(value, date):  # and datetime: as fingerprints print birth dates
        return value.isoformat()
    if isinstance(value, bytes | memoryview):
        return bytes(value).decode(errors="replace")
    return value


def removed_of(engine: Engine, removal_id: str) -> Removed | None:
    """What the sweep or erasure ``removal_id`` took away, as the proof looks for it."""
    row = Removals(engine).get(removal_id)
    return Removed.of(row) if row is not None else None
