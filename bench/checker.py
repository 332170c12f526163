"""The checker of every fault run: what was acknowledged at the input against what each
stage holds (intake, linker, consent, every recipient's timeline, the audit ledger).
Lost, duplicated and out-of-order lists must all be empty."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import groupby, pairwise
from typing import Any

import orjson
from sqlalchemy import Engine, select

from ehx.database import (
    audit_ledger,
    linker_mentions,
    received_events,
    sharing_decisions,
    source_records,
    timeline_entries,
)
from ehx.schemas.vocabulary import OUTSIDE_ROLES, Addressee, Recipient


@dataclass(frozen=True)
class Check:
    """What went in against what came out, per stage; every list should be empty."""

    accepted: int
    expected_deliveries: int
    lost: dict[str, list[str]]
    duplicated: dict[str, list[str]]
    out_of_order: list[str]
    #: For each family out of order, the first pair decided the wrong way round.
    inversions: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return (
            not any(self.lost.values())
            and not any(self.duplicated.values())
            and (not self.out_of_order)
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "accepted_events": self.accepted,
            "expected_deliveries": self.expected_deliveries,
            "lost": {k: len(v) for k, v in self.lost.items()},
            "duplicated": {k: len(v) for k, v in self.duplicated.items()},
            "out_of_order_families": len(self.out_of_order),
            # Lost and duplicated share stage names: prefix them, or one hides the other.
            "examples": {
                f"{kind} {stage}": found[:3]
                for kind, lists in (("lost", self.lost), ("duplicated", self.duplicated))
                for stage, found in lists.items()
                if found
            }
            | ({"out of order": self.inversions[:3]} if self.inversions else {}),
        }


def accepted_events(agency_engine: Engine) -> dict[str, str]:
    """Every event the agencies' publishes were acknowledged for, with its agency."""
    with agency_engine.connect() as connection:
        rows = connection.execute(
            select(source_records.c.agency, source_records.c.event_ids).where(
                source_records.c.status == "published"
            )
        ).all()
    return {event_id: agency for agency, ids in rows for event_id in ids}


def check(engine: Engine, accepted: dict[str, str]) -> Check:
    """Compare what was acknowledged at the input with what every stage holds."""
    wanted = set(accepted)
    lost: dict[str, list[str]] = {}
    duplicated: dict[str, list[str]] = {}
    with engine.connect() as connection:
        received = set(connection.execute(select(received_events.c.event_id)).scalars())
        mentions = connection.execute(
            select(
                linker_mentions.c.seq,
                linker_mentions.c.event_id,
                linker_mentions.c.subject_index,
                linker_mentions.c.family_id,
                linker_mentions.c.role,
            ).order_by(linker_mentions.c.seq)
        ).all()
        decisions = connection.execute(
            select(
                sharing_decisions.c.event_id,
                sharing_decisions.c.recipient,
                sharing_decisions.c.outcome,
                sharing_decisions.c.revision,
                sharing_decisions.c.decided_at,
            )
        ).all()
        entries = connection.execute(
            select(
                timeline_entries.c.recipient,
                timeline_entries.c.event_id,
                timeline_entries.c.revision,
                timeline_entries.c.state,
            )
        ).all()
        audit = [orjson.loads(b) for b in connection.execute(select(audit_ledger.c.body)).scalars()]

    lost["intake"] = sorted(wanted - received)
    linked = Counter((m.event_id, m.subject_index) for m in mentions if m.event_id in wanted)
    lost["linker"] = sorted(wanted - {event for event, _ in linked})
    duplicated["linker"] = sorted(f"{e}#{i}" for (e, i), n in linked.items() if n > 1)

    decided = {(d.event_id, d.recipient): d for d in decisions if d.event_id in wanted}
    # Every kind decided for: the kind itself, or its organisations (school:103291).
    kinds = {(e, Addressee.parse(r).recipient.value) for e, r in decided}
    lost["consent"] = sorted(
        f"{event}:{recipient.value}"
        for event, agency in accepted.items()
        for recipient in Recipient
        if recipient.value != agency and (event, recipient.value) not in kinds
    )
    shares = {key for key, d in decided.items() if d.outcome != "deny"}
    # Entries on show (a retraction keeps its row as a tombstone, shown to nobody).
    shown = {
        (e.event_id, e.recipient): e for e in entries if e.event_id in wanted and e.state == "shown"
    }
    lost["timeline"] = sorted(
        f"{e}:{r}"
        for (e, r) in shares
        if (e, r) not in shown or shown[(e, r)].revision != decided[(e, r)].revision
    )
    duplicated["timeline"] = sorted(f"{e}:{r}" for (e, r) in shown if (e, r) not in shares)

    acts: Counter[tuple[str, str, str]] = Counter()
    for body in audit:
        kind = body["action"]
        counted = kind.startswith("decision.") or kind == "share.delivered"
        if counted and body["event_ids"] and body["event_ids"][0] in wanted:
            acts[(kind.split(".")[0], body["event_ids"][0], body["agency"])] += 1
    lost["audit"] = sorted(
        [f"decision {e}:{r}" for (e, r) in decided if not acts[("decision", e, r)]]
        + [f"delivery {e}:{r}" for (e, r) in shares if not acts[("share", e, r)]]
    )
    # One decision (and at most one delivery) a revision: a decision decided again (a
    # change in whom a school serves, a consent) is recorded again, as its next revision.
    duplicated["audit"] = sorted(
        f"{k} {e}:{r}"
        for (k, e, r), n in acts.items()
        if n > (decided[(e, r)].revision if (e, r) in decided else 1)
    )

    # Order: the linker publishes a family's events in the order it links them (its
    # mentions' sequence), all under the family's key; the consent service must decide
    # them in that order, crash or not.
    # When each event was first decided: the decisions table holds the latest revision
    # only, the ledger every one: a later change in whom a school serves, or a relink after
    # two people were found to be one, decides it again, later, and that is not an
    # event out of order.
    decided_at: dict[str, Any] = {}
    for (e, _), d in decided.items():
        at = d.decided_at if d.decided_at.tzinfo else d.decided_at.replace(tzinfo=UTC)
        decided_at[e] = min(decided_at.get(e, at), at)
    for body in audit:
        if body["action"].startswith("decision.") and body["event_ids"]:
            event, at = body["event_ids"][0], datetime.fromisoformat(body["at"])
            decided_at[event] = min(decided_at.get(event, at), at)
    keys: dict[str, str] = {}
    for event_id, group in groupby(mentions, key=lambda m: m.event_id):
        if event_id not in wanted:
            continue
        subjects = sorted(group, key=lambda m: m.subject_index)
        family = next((m for m in subjects if m.role not in OUTSIDE_ROLES), subjects[0])
        keys.setdefault(event_id, family.family_id)
    by_key: dict[str, list[str]] = defaultdict(list)
    for event_id, key in keys.items():  # dicts keep the mentions' order
        by_key[key].append(event_id)
    out_of_order = []
    inversions = []
    for key, events in by_key.items():
        timed = [(e, decided_at[e]) for e in events if e in decided_at]
        for (first, earlier), (then, later) in pairwise(timed):
            if later < earlier:
                out_of_order.append(key)
                inversions.append(
                    f"family {key}: event {then} (decided {later:%H:%M:%S.%f}) was linked "
                    f"after {first} (decided {earlier:%H:%M:%S.%f})"
                )
                break
    expected = sum(1 for _ in shares)
    return Check(len(wanted), expected, lost, duplicated, out_of_order, inversions)
