"""Operation Encompass: due before the next school day's start; escalation when unacknowledged."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import Engine

from ehx.alerts import Escalation, SchoolCalendar
from ehx.alerts.store import AlertStore
from ehx.consent import load_policy
from ehx.consent.policy import Holiday
from ehx.schemas.views import ShareView
from ehx.schemas.vocabulary import Recipient
from tests.consent.fakes import family_consent, linked_khans, memory_engine
from tests.records import NOW

CALENDAR = SchoolCalendar(holidays=(Holiday(start=date(2026, 12, 21), end=date(2027, 1, 1)),))


@pytest.mark.parametrize(
    ("at", "due"),
    [
        ("2026-11-23T21:40:00+00:00", "2026-11-24T08:30:00+00:00"),  # Monday night
        ("2026-11-24T07:15:00+00:00", "2026-11-24T08:30:00+00:00"),  # before school starts
        ("2026-11-24T08:30:00+00:00", "2026-11-25T08:30:00+00:00"),  # just as it starts
        ("2026-11-27T18:00:00+00:00", "2026-11-30T08:30:00+00:00"),  # Friday: Monday
        ("2026-12-18T20:00:00+00:00", "2027-01-04T08:30:00+00:00"),  # over Christmas
        ("2026-06-01T06:00:00+00:00", "2026-06-01T07:30:00+00:00"),  # summer time: 08:30 BST
    ],
    ids=["evening", "early morning", "at the bell", "weekend", "holiday", "summer time"],
)
def test_due_before_the_start_of_the_next_school_day(at: str, due: str) -> None:
    assert CALENDAR.next_school_start(datetime.fromisoformat(at)) == datetime.fromisoformat(due)


def test_the_shipped_policy_carries_a_holiday_calendar() -> None:
    calendar = load_policy().operation_encompass
    assert calendar.holidays and not calendar.is_school_day(date(2026, 12, 24))


def encompass_views() -> list[ShareView]:
    """The incident's notifications: one to each child's school."""
    engine, _, _ = memory_engine()
    khans = linked_khans()
    schools_first = sorted(khans, key=lambda e: e.source.agency.value != "schools")
    out = engine.on_events(schools_first, NOW)
    views = [m for m in out.messages if isinstance(m, ShareView) and m.basis.outcome == "notify"]
    assert sorted(v.recipient for v in views) == ["school:103377", "school:103512"]
    return views


def test_unacknowledged_goes_to_the_deputy_then_the_local_authority(sqlite_engine: Engine) -> None:
    store = AlertStore(sqlite_engine)
    views = encompass_views()
    assert store.notify(views, CALENDAR) == 2
    assert store.notify(views, CALENDAR) == 0  # idempotent
    first, second = store.notifications(NOW)
    due = first["due_at"].replace(tzinfo=UTC)
    store.acknowledge(first["notification_id"], "key-adult-1", due - timedelta(minutes=30))
    assert store.escalate(CALENDAR, due - timedelta(minutes=1)) == []
    assert store.escalate(CALENDAR, due + timedelta(minutes=1)) == [
        (second["notification_id"], Escalation.DEPUTY.value)
    ]
    assert store.escalate(CALENDAR, due + timedelta(hours=2)) == [
        (second["notification_id"], Escalation.LOCAL_AUTHORITY.value)
    ]
    report = {n["notification_id"]: n for n in store.notifications(due + timedelta(hours=3))}
    assert report[first["notification_id"]]["deadline"] == "met"
    assert report[second["notification_id"]]["deadline"] == "breached"


def test_a_child_on_no_school_roll_goes_straight_to_the_local_authority(
    sqlite_engine: Engine,
) -> None:
    store = AlertStore(sqlite_engine)
    views = [v.model_copy(update={"school_roll": {}}) for v in encompass_views()]
    store.notify(views, CALENDAR)
    notices = store.notifications(NOW)
    assert notices and all(n["addressed_to"] == "local authority" for n in notices)
    assert all(n["escalation"] == Escalation.LOCAL_AUTHORITY.value for n in notices)


def test_the_local_authoritys_notification_goes_to_the_school_once_the_roll_names_it(
    sqlite_engine: Engine,
) -> None:
    store = AlertStore(sqlite_engine)
    named = encompass_views()
    store.notify([v.model_copy(update={"school_roll": {}}) for v in named], CALENDAR)
    assert {n["addressed_to"] for n in store.notifications(NOW)} == {"local authority"}
    store.notify(named, CALENDAR)  # the schools' records arrive: the roll names each
    notices = store.notifications(NOW)
    assert sorted(n["school_urn"] for n in notices) == ["103377", "103512"]
    assert all(n["escalation"] == Escalation.NONE.value for n in notices)
    assert all(n["addressed_to"].endswith("key adult") for n in notices)


def test_a_notification_past_its_deadline_stays_with_the_local_authority(
    sqlite_engine: Engine,
) -> None:
    store = AlertStore(sqlite_engine)
    named = encompass_views()
    store.notify([v.model_copy(update={"school_roll": {}}) for v in named], CALENDAR)
    due = store.notifications(NOW)[0]["due_at"].replace(tzinfo=UTC)
    late = [v.model_copy(update={"shared_at": due + timedelta(hours=1)}) for v in named]
    store.notify(late, CALENDAR)
    assert {n["addressed_to"] for n in store.notifications(NOW)} == {"local authority"}


def test_a_consent_to_share_with_schools_does_not_take_the_notification_away(
    sqlite_engine: Engine,
) -> None:
    """Issue 31's second finding: once the mother had consented to share with schools, a
    domestic abuse incident with both children present made no notification at all (the
    schools' decision became "allow" and the notification path was never reached)."""
    engine, _, _ = memory_engine()
    engine.registry.apply(family_consent((Recipient.SCHOOLS,)))
    khans = sorted(linked_khans(), key=lambda e: e.source.agency.value != "schools")
    out = engine.on_events(khans, NOW)
    incident = [
        m
        for m in out.messages
        if isinstance(m, ShareView) and m.event_type == "police.incident" and m.basis.notified
    ]
    # Each school is given the incident under the consent, and is still notified.
    assert sorted((v.recipient, v.basis.outcome) for v in incident) == [
        ("school:103377", "allow"),
        ("school:103512", "allow"),
    ]
    store = AlertStore(sqlite_engine)
    assert store.notify(incident, CALENDAR) == 2
    assert {n["school_urn"] for n in store.notifications(NOW)} == {"103377", "103512"}
