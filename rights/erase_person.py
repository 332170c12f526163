"""Erasing one person: everything about them alone, and their part of what others share.

Refused, saying why, where the law does not allow it (``erasure.refusal``). Otherwise:
salted hashes of what identified them are put on file first (the proof looks for them),
events about them alone leave every store, they are taken out of events about others
(the children's records stay whole but for her), and every key any recipient holds for
them is destroyed, so what was sealed for them on the topics and in recipients' stores
can no longer be opened. The ledger keeps ids and hashes, so it still verifies.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import Engine, select

from ehx.consent.keys import DataKeyStore
from ehx.consent.policy import Erasure
from ehx.consent.store import ConsentStore
from ehx.database import linker_mentions
from ehx.linker.store import LinkStore
from ehx.rights.access import UnknownPerson
from ehx.rights.erasure import refusal
from ehx.rights.fingerprints import prints_of
from ehx.rights.removal import Removals, Who
from ehx.rights.sweep import Record
from ehx.schemas import ExchangeError
from ehx.schemas.audit import Action, AuditRecord, stable_id


class ErasureRefused(ExchangeError):
    """The law does not allow erasing this person now; the message says why."""


@dataclass
class ErasureReport:
    removal_id: str
    person_ids: list[str]
    events_removed: int
    events_redacted: int
    keys: int
    removed: dict[str, int]

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def erase(
    engine: Engine,
    person_id: str,
    by: Who,
    reason: str,
    rules: Erasure,
    now: datetime,
    record: Record,
) -> ErasureReport:
    links, consent, removals = LinkStore(engine), ConsentStore(engine), Removals(engine)
    removal_id = f"erasure-{person_id}"
    ids = sorted(set(links.members([links.root(person_id)])))
    families = {f for i in ids for f in consent.families_of(i)}
    events = [
        e for e in consent.family_events(families) if any(s.person_id in ids for s in e.subjects)
    ]
    on_file = removals.get(removal_id)
    if not events and on_file is None:
        raise UnknownPerson(
            f"nothing is held about {person_id}: check the id (ehx find NAME --by YOU gives "
            "a person's id)"
        )
    if on_file is None:  # a removal already begun was allowed when it began
        why_not = refusal(removals.standing(ids, families, now), rules, now)
        if why_not is not None:
            raise ErasureRefused(f"{person_id} cannot be erased: {why_not}")
    alone = [str(e.event_id) for e in events if all(s.person_id in ids for s in e.subjects)]
    shared = [str(e.event_id) for e in events if str(e.event_id) not in alone]
    described = _described(engine, ids, events)
    others = [
        {"identifiers": s.identifiers.model_dump(mode="json")}
        for e in events
        for s in e.subjects
        if s.person_id not in ids
    ]
    on_file = removals.begin(
        removal_id,
        "erasure",
        by.username,
        reason,
        now,
        person_id=person_id,
        items=[{"recipient": None, "event_id": e, "period": "erasure"} for e in alone],
        fingerprints=sorted(prints_of(removal_id, described, others)),
    )
    gone = [i["event_id"] for i in on_file["items"]]
    removed = removals.remove_events(gone)
    for table, count in removals.erase_person(ids, shared).items():
        removed[table] = removed.get(table, 0) + count
    keys = DataKeyStore(engine)
    destroyed = [k for i in ids for k in keys.destroy_person(i, f"erasure: {removal_id}")]
    record(
        AuditRecord(
            audit_id=stable_id("erasure", removal_id),
            action=Action.PERSON_ERASED,
            actor=by.username,
            role=by.role,
            agency=by.agency,
            purpose=reason[:200],
            subject_ids=tuple(ids),
            event_ids=tuple(sorted({*gone, *shared})),
            bases=(removal_id, f"sha256:{_digest(on_file['fingerprints'])}"),
            at=now,
        )
    )
    removals.finish(removal_id, now)
    return ErasureReport(removal_id, ids, len(gone), len(shared), len(destroyed), removed)


def _described(engine: Engine, ids: list[str], events: list[Any]) -> list[dict[str, Any]]:
    """Each way the records describe them: the linker's copies and the events' own."""
    with engine.connect() as connection:
        rows = connection.execute(
            select(
                linker_mentions.c.given_name,
                linker_mentions.c.family_name,
                linker_mentions.c.date_of_birth,
                linker_mentions.c.identifiers,
            ).where(linker_mentions.c.person_id.in_(ids))
        ).all()
    described = [dict(r._mapping) for r in rows]
    for event in events:
        for subject in event.subjects:
            if subject.person_id in ids:
                described.append(
                    subject.demographics.model_dump(mode="json")
                    | {"identifiers": subject.identifiers.model_dump(mode="json")}
                )
    return described


def _digest(prints: list[str]) -> str:
    """One hash over the removal's prints: the ledger can show the proof used these."""
    return hashlib.sha256(orjson.dumps(sorted(prints))).hexdigest()
