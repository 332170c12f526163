"""Access notifications, as the NHS Child Protection Information Sharing service does them.

When someone in one organisation views information about a child on a child protection
plan that another holds, the organisation holding it (the trust that sent the record,
``health:RQ3``; the police) is told: who looked (actor, role, organisation), when, why,
and at which of its records. Both can see that history.

Whether a child is on a plan, and which agency holds each record, is read from the
MASH's timeline (a plan flag is always shared with the MASH: ``child_protection_plan``
is a significant-harm rule), so this needs nothing the exchange does not already hold;
the flag's fields are sealed like every view's, and opened here with the MASH's keys.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Engine, and_, insert, or_, select

from ehx.audit.ledger import Found
from ehx.consent.keys import DataKeyStore
from ehx.database import access_notifications, timeline_entries, timeline_people
from ehx.schemas.audit import READS
from ehx.schemas.views import ShareView
from ehx.schemas.vocabulary import Addressee, covers
from ehx.timeline.reading import opened_fields

PLAN_FLAGS = frozenset({"child_protection_plan", "unborn_child_protection_plan"})


@dataclass(frozen=True)
class AccessNotice:
    seq: int
    owner: str
    person_id: str
    viewer: str
    actor: str
    role: str
    purpose: str
    event_ids: tuple[str, ...]
    at: datetime

    def as_dict(self) -> dict[str, object]:
        return {
            "seq": self.seq,
            "owner": self.owner,
            "person_id": self.person_id,
            "viewer": self.viewer,
            "actor": self.actor,
            "role": self.role,
            "purpose": self.purpose,
            "event_ids": list(self.event_ids),
            "at": self.at.isoformat(),
        }


def notices(
    found: Found,
    on_plan: set[str],
    holdings: dict[str, tuple[str, frozenset[str]]],
) -> list[AccessNotice]:
    """The notices one ledger entry calls for (pure).

    ``holdings``: event id -> (the organisation that sent it, ``health:RQ3``, or the
    agency where it is one or the sender is not known; the people it is about).
    """
    record = found.record
    if record.action not in READS:
        return []
    owned: dict[tuple[str, str], list[str]] = {}
    for event_id in record.event_ids:
        owner, people = holdings.get(event_id, ("", frozenset()))
        if not owner or covers(owner, record.agency):
            continue  # an agency reading its own records is no news to it
        for person in sorted(people & on_plan):
            owned.setdefault((owner, person), []).append(event_id)
    return [
        AccessNotice(
            found.seq,
            owner,
            person,
            record.agency,
            record.actor,
            record.role,
            record.purpose,
            tuple(events),
            record.at,
        )
        for (owner, person), events in sorted(owned.items())
    ]


class AccessLog:
    """Finds who is on a plan and who holds what, and keeps the notices."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def on_plan(self, person_ids: Iterable[str], now: datetime) -> set[str]:
        ids = sorted(set(person_ids))
        if not ids:
            return set()
        query = (
            select(timeline_people.c.person_id, timeline_entries.c.view)
            .join(
                timeline_entries,
                and_(
                    timeline_entries.c.recipient == timeline_people.c.recipient,
                    timeline_entries.c.event_id == timeline_people.c.event_id,
                ),
            )
            .where(
                timeline_people.c.person_id.in_(ids),
                timeline_entries.c.recipient == "mash",
                timeline_entries.c.event_type == "health.flag",
                timeline_entries.c.state == "shown",
            )
        )
        with self._engine.connect() as connection:
            rows = connection.execute(query).all()
        current = set()
        vault = DataKeyStore(self._engine)  # a plan flag's fields are sealed like the rest
        for person, view in rows:
            fields = opened_fields(ShareView.model_validate(view), vault) if view else {}
            if fields.get("flag_kind") not in PLAN_FLAGS:
                continue
            ended = fields.get("period_end")
            if ended and str(ended) < now.date().isoformat():
                continue  # the plan has ended
            current.add(person)
        return current

    def holdings(self, event_ids: Iterable[str]) -> dict[str, tuple[str, frozenset[str]]]:
        ids = sorted(set(event_ids))
        if not ids:
            return {}
        with self._engine.connect() as connection:
            # Any recipient's view of an event names its sender alike; the first will do.
            owners: dict[str, str] = {}
            for event_id, agency, view in connection.execute(
                select(
                    timeline_entries.c.event_id,
                    timeline_entries.c.source_agency,
                    timeline_entries.c.view,
                ).where(timeline_entries.c.event_id.in_(ids))
            ):
                sent_by = (view or {}).get("source_organisation")
                owners.setdefault(event_id, str(Addressee.sender(agency, sent_by)))
            people: dict[str, set[str]] = {}
            for event_id, person in connection.execute(
                select(timeline_people.c.event_id, timeline_people.c.person_id)
                .where(timeline_people.c.event_id.in_(ids))
                .distinct()
            ):
                people.setdefault(event_id, set()).add(person)
        return {e: (owners[e], frozenset(people.get(e, ()))) for e in owners}

    def notice(self, entries: Sequence[Found], now: datetime) -> list[AccessNotice]:
        """Work out and keep the notices a batch of new ledger entries calls for."""
        reads = [f for f in entries if f.record.action in READS]
        if not reads:
            return []
        on_plan = self.on_plan((s for f in reads for s in f.record.subject_ids), now)
        if not on_plan:
            return []
        holdings = self.holdings(e for f in reads for e in f.record.event_ids)
        made = [n for f in reads for n in notices(f, on_plan, holdings)]
        if made:
            with self._engine.begin() as connection:
                known = {
                    (row.seq, row.owner, row.person_id)
                    for row in connection.execute(
                        select(
                            access_notifications.c.seq,
                            access_notifications.c.owner,
                            access_notifications.c.person_id,
                        ).where(access_notifications.c.seq.in_(sorted({n.seq for n in made})))
                    )
                }
                fresh = [n for n in made if (n.seq, n.owner, n.person_id) not in known]
                if fresh:
                    connection.execute(
                        insert(access_notifications),
                        [
                            {**n.as_dict(), "event_ids": list(n.event_ids), "at": n.at}
                            for n in fresh
                        ],
                    )
        return made

    def history(
        self, *, agency: str | None = None, person_id: str | None = None
    ) -> list[AccessNotice]:
        """Notices to ``agency`` (its records were viewed) or by it (it viewed), oldest first."""
        query = select(access_notifications).order_by(
            access_notifications.c.seq, access_notifications.c.owner
        )
        if agency is not None:
            query = query.where(
                or_(access_notifications.c.owner == agency, access_notifications.c.viewer == agency)
            )
        if person_id is not None:
            query = query.where(access_notifications.c.person_id == person_id)
        with self._engine.connect() as connection:
            rows = connection.execute(query).mappings().all()
        return [
            AccessNotice(
                int(r["seq"]),
                r["owner"],
                r["person_id"],
                r["viewer"],
                r["actor"],
                r["role"],
                r["purpose"],
                tuple(r["event_ids"]),
                r["at"] if r["at"].tzinfo else r["at"].replace(tzinfo=UTC),
            )
            for r in rows
        ]
