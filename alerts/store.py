"""The alert queue and Operation Encompass notifications, in the database.

Alerts are raised and filled in from what the MASH and the early help hub hold about a
family (``refresh``); screeners move them from new to in screening to a decision.
Notifications are made from the schools' Operation Encompass views (``notify``) and
escalated by the clock (``escalate``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Connection, Engine, bindparam, insert, select, update

from ehx.alerts.deciders import AlertKind
from ehx.alerts.encompass import Escalation, SchoolCalendar, acknowledgers, escalation_due
from ehx.alerts.needs import (
    LevelOfNeed,
    picture,
    screening_due,
    suggest_level,
    think_family_reasons,
)
from ehx.consent.policy import ScreeningTimescales
from ehx.database import (
    alerts,
    consent_records,
    encompass_notifications,
    screening_outcomes,
    timeline_entries,
)
from ehx.database.bulk import execute_many
from ehx.database.upsert import insert_ignoring_duplicates
from ehx.schemas import ExchangeError
from ehx.schemas.views import ShareView
from ehx.schemas.vocabulary import Addressee


class AlertStatus(StrEnum):
    NEW = "new"
    IN_SCREENING = "in_screening"
    DECIDED = "decided"
    #: A Think Family alert gathered into its family's significant-harm case: the family
    #: is screened once, as one case (its rationale names the case).
    GATHERED = "gathered"


#: Alerts that are still someone's to screen.
OPEN = (AlertStatus.NEW.value, AlertStatus.IN_SCREENING.value)


class ScreeningDecision(StrEnum):
    NO_FURTHER_ACTION = "no_further_action"
    UNIVERSAL_PLUS = "universal_plus"
    STRATEGY_DISCUSSION = "strategy_discussion"
    EARLY_HELP_TAF = "early_help_team_around_the_family"
    S17_CHILD_IN_NEED = "s17_child_in_need_assessment"
    S47_ENQUIRY = "s47_enquiry"


SEEK_CONSENT = (
    "The early help hub holds indicators only (category, date, agency). "
    "Seek the family's consent to see the details."
)
log = logging.getLogger(__name__)
#: The shortest rationale a screening decision is taken with.
MIN_RATIONALE = 10
_URGENCY = {LevelOfNeed.COMPLEX_SIGNIFICANT: 0, LevelOfNeed.ADDITIONAL_NEEDS: 1}


class DecisionIncomplete(ExchangeError):
    """A screening decision offered without what it needs: its reasons, and for early
    help with a team around the family, the lead professional."""


class AlertNotFound(ExchangeError):
    def __init__(self, what: str) -> None:
        super().__init__(f"no {what}")


class AlertStore:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    # --- raising ------------------------------------------------------------------------

    def refresh(
        self,
        family_id: str,
        views: list[ShareView],
        now: datetime,
        screening: ScreeningTimescales,
    ) -> list[str]:
        """Raise or fill in one family's alerts from what the MASH and hub hold."""
        return self.refresh_all({family_id: views}, now, screening)

    def refresh_all(
        self,
        families: dict[str, list[ShareView]],
        now: datetime,
        screening: ScreeningTimescales,
    ) -> list[str]:
        """Raise or fill in many families' alerts in one transaction; the ids that changed."""
        if not families:
            return []
        changed: list[str] = []
        with self._engine.begin() as connection:
            existing: dict[tuple[str, str], list[dict[str, Any]]] = {}
            for row in connection.execute(
                select(alerts)
                .where(alerts.c.family_id.in_(sorted(families)))
                .order_by(alerts.c.raised_at.desc())
            ):
                mapping = dict(row._mapping)
                existing.setdefault((mapping["family_id"], mapping["kind"]), []).append(mapping)
            new: list[dict[str, Any]] = []
            harmed = []
            for family_id, views in families.items():
                for kind, values in _wanted(views):
                    rows = existing.get((family_id, kind.value), [])
                    changed += _upsert(
                        connection, rows, family_id, kind, values, now, new, screening
                    )
                    if kind is AlertKind.SIGNIFICANT_HARM:
                        harmed.append(family_id)
            if new:
                execute_many(connection, insert(alerts), new, "alerts")
            for family_id in harmed:
                changed += _gather(connection, existing, family_id, new, now)
        return changed

    # --- screening ----------------------------------------------------------------------

    def queue(self, include_decided: bool = False) -> list[dict[str, Any]]:
        """Alerts, most urgent first: significant harm, then by level, then oldest."""
        with self._engine.connect() as connection:
            query = select(alerts)
            if not include_decided:
                query = query.where(alerts.c.status.in_(OPEN))
            rows = [_rated(dict(r._mapping)) for r in connection.execute(query)]
        return sorted(
            rows,
            key=lambda r: (
                r["kind"] != AlertKind.SIGNIFICANT_HARM.value,
                _URGENCY.get(LevelOfNeed(r["level"]), 2),
                r["raised_at"],
            ),
        )

    def get(self, alert_id: str) -> dict[str, Any]:
        with self._engine.connect() as connection:
            row = connection.execute(select(alerts).where(alerts.c.alert_id == alert_id)).first()
        if row is None:
            raise AlertNotFound(f"alert {alert_id}")
        return _rated(dict(row._mapping))

    def screen(self, alert_id: str, by: str, now: datetime) -> None:
        """A screener takes the alert: new → in screening."""
        alert = self.get(alert_id)
        if alert["status"] not in OPEN:
            raise ExchangeError(f"alert {alert_id} is {_closed(alert)}")
        with self._engine.begin() as connection:
            connection.execute(
                update(alerts)
                .where(alerts.c.alert_id == alert_id)
                .values(status=AlertStatus.IN_SCREENING.value, screened_by=by, screened_at=now)
            )

    def decide(
        self,
        alert_id: str,
        decision: ScreeningDecision,
        by: str,
        now: datetime,
        rationale: str,
        lead_professional: str = "",
    ) -> None:
        """Record the screening decision, who made it, when and why (``rationale``, in
        their words: a decision without one is refused); early help with a team around
        the family names its lead professional."""
        if len(rationale.strip()) < MIN_RATIONALE:
            raise DecisionIncomplete(
                f"say why, in a sentence or more ({MIN_RATIONALE} characters at least): the "
                "rationale is what the family, a manager and an auditor read later"
            )
        lead = lead_professional.strip()
        if decision is ScreeningDecision.EARLY_HELP_TAF and not lead:
            raise DecisionIncomplete(
                "name the lead professional for the team around the family (who, and which "
                "organisation): the family and the team need one person to go to"
            )
        alert = self.get(alert_id)
        if alert["status"] not in OPEN:
            raise ExchangeError(f"alert {alert_id} is {_closed(alert)}")
        values: dict[str, Any] = {
            "status": AlertStatus.DECIDED.value,
            "decision": decision.value,
            "decided_by": by,
            "decided_at": now,
            "rationale": rationale.strip(),
            "lead_professional": lead or None,
        }
        if alert["screened_by"] is None:
            values |= {"screened_by": by, "screened_at": now}
        with self._engine.begin() as connection:
            connection.execute(update(alerts).where(alerts.c.alert_id == alert_id).values(**values))
            _tell_contributors(connection, alert, decision, lead, now)

    def outcomes(self, told: str) -> list[dict[str, Any]]:
        """What was decided about the cases ``told``'s records were behind, latest first."""
        o = screening_outcomes.c
        with self._engine.connect() as connection:
            rows = connection.execute(
                select(screening_outcomes).where(o.told == told).order_by(o.decided_at.desc())
            )
            return [dict(r._mapping) for r in rows]

    # --- Operation Encompass ------------------------------------------------------------

    def notify(
        self, views: Iterable[ShareView], calendar: SchoolCalendar, *, count: bool = True
    ) -> int:
        """A notification per child in each Encompass view; idempotent; returns how many new.

        ``count=False``: the caller needs no count (the alert desk), so the rows go in one
        ``executemany`` and 0 is returned. Counting them (``RETURNING``, through
        SQLAlchemy's parameter processing) was a sixth of the timeline service's time on
        the latency benchmark's incidents, each a notification for a child.
        """
        rows = []
        for view in views:
            for person_id in _notified(view):
                school = view.school_roll.get(person_id)
                rows.append(
                    {
                        "notification_id": f"{view.event_id}:{person_id}",
                        "event_id": str(view.event_id),
                        "family_id": view.family_id,
                        "person_id": person_id,
                        "school_urn": school,
                        "addressed_to": f"school {school} key adult"
                        if school
                        else "local authority",
                        "created_at": view.shared_at,
                        "due_at": calendar.next_school_start(view.shared_at),
                        "escalation": (
                            Escalation.NONE if school else Escalation.LOCAL_AUTHORITY
                        ).value,
                        "escalated_at": None if school else view.shared_at,
                    }
                )
        with self._engine.begin() as connection:
            made = insert_ignoring_duplicates(
                connection, encompass_notifications, rows, count=count
            )
            self._reroute(connection, [r for r in rows if r["school_urn"]])
        return made

    @staticmethod
    def _reroute(connection: Connection, named: list[dict[str, Any]]) -> None:
        """A notification made while the child was on no roll we held went to the local
        authority; once the roll names the school, it goes to that school's key adult,
        if it is not yet met and its deadline has not passed."""
        if not named:
            return
        n = encompass_notifications.c
        connection.execute(
            update(encompass_notifications)
            .where(
                n.notification_id == bindparam("_id"),
                n.school_urn.is_(None),
                n.acknowledged_at.is_(None),
                n.due_at > bindparam("_at"),
            )
            .values(
                school_urn=bindparam("_urn"),
                addressed_to=bindparam("_to"),
                escalation=Escalation.NONE.value,
                escalated_at=None,
            ),
            [
                {
                    "_id": r["notification_id"],
                    "_at": r["created_at"],
                    "_urn": r["school_urn"],
                    "_to": r["addressed_to"],
                }
                for r in named
            ],
        )

    def acknowledge(
        self, notification_id: str, by: str, now: datetime, acts_for: str | None = None
    ) -> None:
        """Mark a notification met; with ``acts_for`` (``school:103512``,
        ``local_authority``), only if that is who acknowledges it (``acknowledgers``): one
        that is another's is not found, never acknowledged."""
        n = encompass_notifications.c
        with self._engine.begin() as connection:
            row = connection.execute(
                select(n.school_urn, n.escalation).where(
                    n.notification_id == notification_id, n.acknowledged_at.is_(None)
                )
            ).first()
            theirs = row is not None and (
                acts_for is None or acts_for in acknowledgers(row.school_urn, row.escalation)
            )
            done = (
                theirs
                and connection.execute(
                    update(encompass_notifications)
                    .where(n.notification_id == notification_id, n.acknowledged_at.is_(None))
                    .values(acknowledged_at=now, acknowledged_by=by)
                ).rowcount
            )
        if not done:
            where = f" for {acts_for}" if acts_for else ""
            raise AlertNotFound(f"no unacknowledged notification {notification_id}{where}")

    def escalate(self, calendar: SchoolCalendar, now: datetime) -> list[tuple[str, str]]:
        """Move unacknowledged notifications up the chain; (id, new level) for each moved."""
        moved = []
        with self._engine.begin() as connection:
            rows = connection.execute(
                select(encompass_notifications).where(
                    encompass_notifications.c.acknowledged_at.is_(None)
                )
            ).all()
            for row in rows:
                current = Escalation(row.escalation)
                due = _aware(row.due_at)
                assert due is not None
                target = escalation_due(calendar, due, now, current)
                if target is not current:
                    connection.execute(
                        update(encompass_notifications)
                        .where(encompass_notifications.c.notification_id == row.notification_id)
                        .values(escalation=target.value, escalated_at=now)
                    )
                    moved.append((row.notification_id, target.value))
        return moved

    def notification(self, notification_id: str) -> dict[str, Any] | None:
        with self._engine.connect() as connection:
            row = connection.execute(
                select(encompass_notifications).where(
                    encompass_notifications.c.notification_id == notification_id
                )
            ).first()
        return dict(row._mapping) if row else None

    def notifications(self, now: datetime, acts_for: str | None = None) -> list[dict[str, Any]]:
        """Every notification with its deadline met, breached, or still pending; with
        ``acts_for``, only those that are theirs to acknowledge (``acknowledgers``)."""
        with self._engine.connect() as connection:
            rows = [
                dict(r._mapping)
                for r in connection.execute(
                    select(encompass_notifications).order_by(encompass_notifications.c.due_at)
                )
            ]
        if acts_for is not None:
            rows = [r for r in rows if acts_for in acknowledgers(r["school_urn"], r["escalation"])]
        for row in rows:
            due, acked = _aware(row["due_at"]), _aware(row["acknowledged_at"])
            assert due is not None
            if acked is not None:
                row["deadline"] = "met" if acked <= due else "breached"
            else:
                row["deadline"] = "breached" if now > due else "pending"
        return rows


def _tell_contributors(
    connection: Connection,
    alert: dict[str, Any],
    decision: ScreeningDecision,
    lead: str,
    now: datetime,
) -> None:
    """Each organisation whose records the case drew on is told the outcome (and the
    lead professional), naming its own records: what happened to its referral."""
    e = timeline_entries.c
    found = connection.execute(
        select(e.event_id, e.source_agency, e.record_ref, e.view).where(
            e.event_id.in_(list(alert["event_ids"]))
        )
    ).all()
    records: dict[str, dict[str, None]] = {}
    for _, agency, ref, view in found:
        if not agency:
            continue
        told = str(Addressee.sender(agency, (view or {}).get("source_organisation")))
        records.setdefault(told, {})[str(ref)] = None
    for told, concern in _referrers(connection, alert, now):
        records.setdefault(told, {})[concern] = None
    rows = [
        {
            "alert_id": alert["alert_id"],
            "told": told,
            "family_id": alert["family_id"],
            "outcome": decision.value,
            "lead_professional": lead or None,
            "decided_at": now,
            "records": sorted(refs),
        }
        for told, refs in sorted(records.items())
    ]
    insert_ignoring_duplicates(connection, screening_outcomes, rows, count=False)


def _referrers(
    connection: Connection, alert: dict[str, Any], now: datetime
) -> list[tuple[str, str]]:
    """(organisation, "concern raised 07 Dec 2026") for each concern a practitioner raised
    about the family since its last decided case: the referrer hears what was decided."""
    a = alerts.c
    since = connection.execute(
        select(a.decided_at).where(
            a.family_id == alert["family_id"],
            a.alert_id != alert["alert_id"],
            a.status == AlertStatus.DECIDED.value,
            a.decided_at.is_not(None),
        )
    ).scalars()
    last = max((m for t in since if (m := _aware(t)) is not None), default=None)
    c = consent_records.c
    bodies = connection.execute(
        select(c.body).where(c.subject_id == alert["family_id"], c.kind == "harm_assertion")
    ).scalars()
    found = []
    for body in bodies:
        at = datetime.fromisoformat(str(body["asserted_at"]))
        by_the_hub = body["asserted_by_agency"] in ("mash", "early_help")  # not a referrer
        if at <= now and (last is None or at > last) and not by_the_hub:
            who = Addressee.sender(body["asserted_by_agency"], body.get("asserted_by_organisation"))
            found.append((str(who), f"concern raised {at:%d %b %Y}"))
    return found


def _rated(alert: dict[str, Any]) -> dict[str, Any]:
    """The alert with its RAG rating, which its level of need gives."""
    return alert | {"rag": LevelOfNeed(alert["level"]).rag}


def _closed(alert: dict[str, Any]) -> str:
    """Why an alert is no longer open, in words."""
    if alert["status"] == AlertStatus.GATHERED.value:
        return f"part of the family's case {alert['rationale']}: screen that"
    return f"decided already ({alert['decision']})"


def _notified(view: ShareView) -> tuple[str, ...]:
    """The children a view owes an Operation Encompass notification: those its basis
    names, whatever else it shares under consent (a view from before ``notified`` was
    kept: everyone in a notification's view)."""
    if view.basis.notified:
        return view.basis.notified
    if view.basis.rule == "operation_encompass":
        return tuple(s.person_id for s in view.subjects)
    return ()


def _wanted(views: list[ShareView]) -> list[tuple[AlertKind, dict[str, Any]]]:
    """The alert a family's views call for, with its level, reasons and evidence: one case
    a family. Where significant harm fired, that is the case, and it gathers the Think
    Family problems too (a second alert asking for consent would contradict it)."""
    family = picture(views)
    problems = {c.value: list(ids) for c, ids in sorted(family.problems.items())}
    in_problems = sorted({e for ids in family.problems.values() for e in ids})
    overrides = [v for v in views if v.basis.outcome == "override"]
    if overrides:
        rules = sorted({r for v in overrides for r in (v.basis.rule or "").split(",") if r})
        level, reasons = suggest_level(family, rules)
        signs = list(dict.fromkeys(sign for v in overrides for sign in v.basis.signs))
        if signs:
            reasons = [*reasons, "signs that add up: " + "; ".join(signs)]
        if family.problems:
            reasons = [*reasons, *think_family_reasons(family)]
        events = [str(v.event_id) for v in overrides]
        return [
            (
                AlertKind.SIGNIFICANT_HARM,
                {
                    "level": level.value,
                    "reasons": reasons,
                    "problems": {"significant_harm": events, **problems},
                    "event_ids": sorted({*events, *in_problems}),
                    "indicators_only": False,
                },
            )
        ]
    if not family.think_family:
        return []
    level, reasons = suggest_level(family)
    if family.indicators_only:
        reasons = [*reasons, SEEK_CONSENT]
    return [
        (
            AlertKind.THINK_FAMILY,
            {
                "level": level.value,
                "reasons": reasons,
                "problems": problems,
                "event_ids": in_problems,
                "indicators_only": family.indicators_only,
            },
        )
    ]


def _gather(
    connection: Connection,
    existing: dict[tuple[str, str], list[dict[str, Any]]],
    family_id: str,
    new: list[dict[str, Any]],
    now: datetime,
) -> list[str]:
    """Gather a family's open Think Family alert into its significant-harm case (the one
    open, or just raised): the family is screened once. The ids that changed."""
    harm = AlertKind.SIGNIFICANT_HARM.value
    case = next(
        (a["alert_id"] for a in new if a["family_id"] == family_id and a["kind"] == harm),
        None,
    ) or next(
        (a["alert_id"] for a in existing.get((family_id, harm), []) if a["status"] in OPEN),
        None,
    )
    think = existing.get((family_id, AlertKind.THINK_FAMILY.value), [])
    gathered = [a["alert_id"] for a in think if a["status"] in OPEN]
    if case is None or not gathered:
        return []
    connection.execute(
        update(alerts)
        .where(alerts.c.alert_id.in_(gathered))
        .values(status=AlertStatus.GATHERED.value, rationale=case, updated_at=now)
    )
    return gathered


#: One statement for every fill-in, its values bound at execution: a statement built
#: with ``.values(...)`` per alert was compiled (and cache-keyed) afresh each time, half
#: the alert desk's time on a stream of new families.
_FILL_IN = update(alerts).where(alerts.c.alert_id == bindparam("target"))


def _upsert(
    connection: Connection,
    rows: list[dict[str, Any]],
    family_id: str,
    kind: AlertKind,
    values: dict[str, Any],
    now: datetime,
    new: list[dict[str, Any]],
    screening: ScreeningTimescales,
) -> list[str]:
    """Fill in the open alert, or open a new one on new evidence (appended to ``new``, for
    the caller to insert with the rest); the id if it changed. Either is due to be
    screened by its RAG rating's timescale from when it was raised (a level that rises
    brings the deadline forward)."""
    latest = rows[0] if rows else None
    if latest is not None and latest["status"] in OPEN:
        if all(latest[k] == v for k, v in values.items()):
            return []
        raised = _aware(latest["raised_at"]) or now
        values = values | {"due_at": screening_due(LevelOfNeed(values["level"]), raised, screening)}
        connection.execute(_FILL_IN, {"target": latest["alert_id"], **values, "updated_at": now})
        return [latest["alert_id"]]
    if latest is not None and set(values["event_ids"]) <= set(latest["event_ids"]):
        return []  # decided already on this evidence
    alert_id = f"{kind.value}:{family_id}:{len(rows) + 1}"
    new.append(
        {
            "alert_id": alert_id,
            "family_id": family_id,
            "kind": kind.value,
            "status": AlertStatus.NEW.value,
            "raised_at": now,
            "updated_at": now,
            "due_at": screening_due(LevelOfNeed(values["level"]), now, screening),
            **values,
        }
    )
    return [alert_id]


def _aware(moment: datetime | None) -> datetime | None:
    """SQLite hands instants back without their zone; they were stored in UTC."""
    if moment is None:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


async def sweep_escalations(store: AlertStore, calendar: SchoolCalendar, every: float) -> None:
    """Escalate unacknowledged Encompass notifications as their deadlines pass; forever."""
    while True:
        moved = await asyncio.to_thread(store.escalate, calendar, datetime.now(UTC))
        for notification_id, level in moved:
            log.warning(
                "Operation Encompass %s unacknowledged: escalated to %s", notification_id, level
            )
        await asyncio.sleep(every)
