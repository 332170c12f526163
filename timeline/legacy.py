"""Timelines from before organisations: entries a whole kind received, moved to the
organisation the roll says each is for.

Before migration 0022 a school's view of an event went to every school (``schools``)
and each school's reads were narrowed afterwards; now each school has its own. An entry
of a school's, trust's or landlord's kind whose people the roll on file places with one
organisation is moved to it (the view itself is unchanged: it stays sealed under the
keys it was sealed with, which its recipient name in the view still names); one whose
people are served by several, or by none we know, stays where it is, readable by no
single organisation, and is reported. Operation Encompass notifications addressed to
the kind are the local authority's and stay too.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from sqlalchemy import Engine, and_, select, update

from ehx.consent.rolls import serving
from ehx.consent.store import ConsentStore
from ehx.database import timeline_entries, timeline_people
from ehx.schemas.vocabulary import SERVING_KINDS, Addressee


@dataclass
class LegacyReport:
    """What was (or would be) moved, and what could not be, entry by entry."""

    moved: list[tuple[str, str, str]] = field(default_factory=list)  # (kind, event, to)
    kept: list[tuple[str, str, str]] = field(default_factory=list)  # (kind, event, why)

    def as_dict(self) -> dict[str, object]:
        return {
            "moved": [{"from": k, "event_id": e, "to": t} for k, e, t in self.moved],
            "not_moved": [{"from": k, "event_id": e, "reason": r} for k, e, r in self.kept],
        }


def map_legacy(engine: Engine, *, apply: bool) -> LegacyReport:
    """Find kind-wide entries of serving kinds; with ``apply``, move those the roll places."""
    report = LegacyReport()
    kinds = [k.value for k in SERVING_KINDS]
    c = timeline_entries.c
    with engine.connect() as connection:
        rows = connection.execute(
            select(c.recipient, c.event_id, c.family_id, c.view).where(
                c.recipient.in_(kinds), c.state == "shown"
            )
        ).all()
        taken = {
            (r, e)
            for r, e in connection.execute(
                select(c.recipient, c.event_id).where(c.recipient.contains(":"))
            )
        }
    by_family: dict[str, list[tuple[str, str, dict[str, object]]]] = defaultdict(list)
    for kind, event_id, family_id, view in rows:
        by_family[family_id].append((kind, event_id, view or {}))
    store = ConsentStore(engine)
    for family_id, entries in sorted(by_family.items()):
        events = store.family_events({family_id})
        for kind, event_id, view in entries:
            basis = view.get("basis")
            if isinstance(basis, dict) and basis.get("outcome") == "notify":
                report.kept.append((kind, event_id, "a notification for the local authority"))
                continue
            subjects = view.get("subjects")
            listed = subjects if isinstance(subjects, list) else []
            people = {str(s.get("person_id")) for s in listed if isinstance(s, dict)}
            orgs = {code for code, served in serving(kind, events).items() if served & people}
            if len(orgs) != 1:
                why = (
                    "no organisation on record serves them"
                    if not orgs
                    else (f"its people are served by {len(orgs)} organisations")
                )
                report.kept.append((kind, event_id, why))
                continue
            to = str(Addressee(Addressee.parse(kind).recipient, orgs.pop()))
            if (to, event_id) in taken:
                report.kept.append((kind, event_id, f"{to} has its own entry since"))
                continue
            report.moved.append((kind, event_id, to))
    if apply and report.moved:
        with engine.begin() as connection:
            for kind, event_id, to in report.moved:
                for table in (timeline_entries, timeline_people):
                    connection.execute(
                        update(table)
                        .where(and_(table.c.recipient == kind, table.c.event_id == event_id))
                        .values(recipient=to)
                    )
    return report
