"""Alerts: raised with a suggested level and reasons, filled in, screened and decided."""

from __future__ import annotations

from datetime import timedelta
from uuid import uuid4

import pytest
from sqlalchemy import Engine

from ehx.alerts import LevelOfNeed, picture, suggest_level
from ehx.alerts.store import AlertStore, DecisionIncomplete, ScreeningDecision
from ehx.consent import HarmAssertion, load_policy
from ehx.consent.store import ConsentStore
from ehx.schemas import ExchangeError
from ehx.schemas.views import ShareView
from ehx.schemas.vocabulary import Recipient
from tests.consent.fakes import linked_khans, memory_engine
from tests.flows import MARYAMS_SCHOOL, YUSUFS_SCHOOL, khans_on_file
from tests.records import NOW

SCREENING = load_policy().screening

KHANS = linked_khans()


def hub_views(dash: str = "medium") -> list[ShareView]:
    engine, _, _ = memory_engine()
    events = [
        e.model_copy(update={"payload": e.payload.model_copy(update={"dash_risk": dash})})
        if e.payload.kind == "police.incident" and len(e.subjects) == 4
        else e
        for e in KHANS
    ]
    out = engine.on_events(events, NOW)
    return [
        m
        for m in out.messages
        if isinstance(m, ShareView) and m.recipient in ("mash", "early_help")
    ]


def test_the_suggested_level_rises_with_the_problems_and_says_why() -> None:
    views = hub_views()
    health = [v for v in views if v.source_agency == "health"]
    assert not picture(health).think_family  # one problem: no Think Family alert
    two = [v for v in views if v.source_agency in ("health", "housing")]
    level, reasons = suggest_level(picture(two))
    assert picture(two).think_family and level is LevelOfNeed.UNIVERSAL_PLUS
    assert reasons[0].startswith("2 Think Family problem(s)") and "health problems" in reasons[0]
    with_abuse = two + [
        v
        for v in views
        if v.source_agency == "police" and "domestic_violence_abuse" in v.categories
    ]
    level, reasons = suggest_level(picture(with_abuse))
    assert level is LevelOfNeed.ADDITIONAL_NEEDS
    assert any("domestic violence and abuse" in r for r in reasons)


def test_an_override_makes_it_complex_and_raises_a_significant_harm_alert_first(
    sqlite_engine: Engine,
) -> None:
    store = AlertStore(sqlite_engine)
    views = hub_views(dash="high")
    store.refresh(views[0].family_id, views, NOW, SCREENING)
    # One case for the family: the significant-harm alert, gathering its Think Family
    # problems, and no second alert asking for the family's consent.
    [harm] = store.queue()
    assert harm["kind"] == "significant_harm"
    assert harm["level"] == LevelOfNeed.COMPLEX_SIGNIFICANT.value
    assert "domestic_abuse_high_risk_children_present" in harm["reasons"][0]
    assert any("Think Family problem(s)" in r for r in harm["reasons"])
    assert not any("Seek the family's consent" in r for r in harm["reasons"])
    assert harm["due_at"] is not None


def test_a_think_family_alert_raised_first_is_gathered_into_the_significant_harm_case(
    sqlite_engine: Engine,
) -> None:
    """Issue 31, fifth finding: each significant-harm family also got a Think Family
    alert saying "seek the family's consent", and it stayed new after the s.47."""
    store = AlertStore(sqlite_engine)
    first = hub_views()
    [think] = store.refresh(first[0].family_id, first, NOW, SCREENING)
    high = hub_views("high")
    store.refresh(high[0].family_id, [*first, *high], NOW, SCREENING)
    [case] = store.queue()
    assert case["kind"] == "significant_harm"
    gathered = store.get(think)
    assert (gathered["status"], gathered["rationale"]) == ("gathered", case["alert_id"])
    with pytest.raises(ExchangeError, match="part of the family's case"):
        store.decide(think, ScreeningDecision.UNIVERSAL_PLUS, "sw-1", NOW, "duplicate case")


def test_one_incident_is_one_problem_and_the_reasons_name_the_records() -> None:
    """Issue 31, fifth finding: one domestic abuse incident counted as two Think Family
    problems (crime and domestic abuse), and so as a Think Family family on its own."""
    incident = [v for v in hub_views() if v.source_agency == "police" and len(v.categories) > 1]
    assert incident and {"crime_antisocial_behaviour", "domestic_violence_abuse"} <= set(
        incident[0].categories
    )
    alone = picture(incident)
    assert [c.value for c in alone.problems] == ["domestic_violence_abuse"]
    assert not alone.think_family
    _, reasons = suggest_level(picture(hub_views()))
    assert any(
        r.startswith("domestic violence and abuse: police ") and incident[0].record_ref in r
        for r in reasons
    )


def test_screening_records_who_decided_what_and_when(sqlite_engine: Engine) -> None:
    store = AlertStore(sqlite_engine)
    views = hub_views()
    [alert_id] = store.refresh(views[0].family_id, views, NOW, SCREENING)
    assert store.get(alert_id)["status"] == "new"
    store.screen(alert_id, "sw-12", NOW + timedelta(minutes=5))
    assert store.get(alert_id)["status"] == "in_screening"
    # A decision needs its reasons in the screener's words.
    with pytest.raises(DecisionIncomplete, match="say why"):
        store.decide(alert_id, ScreeningDecision.EARLY_HELP_TAF, "sw-12", NOW, "  ok  ")
    why = "Mother agrees; school and health to join a team around the family."
    # Early help with a team around the family names who leads it.
    with pytest.raises(DecisionIncomplete, match="lead professional"):
        store.decide(alert_id, ScreeningDecision.EARLY_HELP_TAF, "sw-12", NOW, why)
    lead = "J. Patel, family support worker, Sparkhill early help"
    store.decide(alert_id, ScreeningDecision.EARLY_HELP_TAF, "sw-12", NOW, why, lead)
    decided = store.get(alert_id)
    assert (decided["status"], decided["decision"], decided["decided_by"]) == (
        "decided",
        "early_help_team_around_the_family",
        "sw-12",
    )
    assert (decided["rationale"], decided["lead_professional"]) == (why, lead)
    with pytest.raises(ExchangeError, match="decided already"):
        store.decide(alert_id, ScreeningDecision.S47_ENQUIRY, "sw-13", NOW, why)
    # The same evidence again opens nothing; new evidence opens a new alert.
    assert store.refresh(views[0].family_id, views, NOW, SCREENING) == []
    assert store.queue() == []
    extra = views[0].model_copy(update={"event_id": uuid4()})
    [again] = store.refresh(views[0].family_id, [*views, extra], NOW, SCREENING)
    assert again != alert_id and store.get(again)["status"] == "new"


@pytest.mark.parametrize(
    ("raised", "level", "due"),
    [
        ("2026-11-23T09:00:00+00:00", "complex_significant", "2026-11-23T17:00:00+00:00"),
        ("2026-11-23T09:00:00+00:00", "additional_needs", "2026-11-24T17:00:00+00:00"),
        ("2026-11-23T09:00:00+00:00", "universal_plus", "2026-11-26T17:00:00+00:00"),
        ("2026-11-27T18:30:00+00:00", "complex_significant", "2026-11-30T17:00:00+00:00"),
        ("2026-11-28T10:00:00+00:00", "additional_needs", "2026-12-01T17:00:00+00:00"),
        ("2026-06-01T15:00:00+00:00", "complex_significant", "2026-06-01T16:00:00+00:00"),
    ],
    ids=["red", "amber", "green", "red on a Friday night", "amber at a weekend", "summer time"],
)
def test_an_alert_is_due_for_screening_by_its_rag_rating(raised: str, level: str, due: str) -> None:
    """Issue 31, fourth finding: the clock shown was the override's 72-hour review, not a
    screening timescale. Red is screened the same working day, amber within one."""
    from datetime import datetime

    from ehx.alerts.needs import screening_due

    when = screening_due(LevelOfNeed(level), datetime.fromisoformat(raised), SCREENING)
    assert when == datetime.fromisoformat(due)


def test_the_queue_shows_each_alerts_rag_rating_and_screening_deadline(
    sqlite_engine: Engine,
) -> None:
    store = AlertStore(sqlite_engine)
    views = hub_views(dash="high")
    store.refresh(views[0].family_id, views, NOW, SCREENING)
    [harm] = store.queue()
    assert harm["rag"] == "red"
    assert harm["due_at"].replace(tzinfo=None) == SCREENING.due(NOW, 0).replace(tzinfo=None)


def test_the_school_that_raised_a_concern_hears_what_was_decided_once(
    sqlite_engine: Engine,
) -> None:
    family = khans_on_file(sqlite_engine)
    store = AlertStore(sqlite_engine)
    [yusuf] = [n["person_id"] for n in store.notifications(NOW) if n["school_urn"] == YUSUFS_SCHOOL]
    concern = HarmAssertion(
        person_id=yusuf,
        family_id=family,
        asserted_by="dsl-sparkhill",
        asserted_by_agency=Recipient.SCHOOLS,
        asserted_by_organisation=YUSUFS_SCHOOL,
        reason="Yusuf told his teacher he is hit at home.",
        asserted_at=NOW,
    )
    ConsentStore(sqlite_engine).save_record(concern)
    [case] = store.queue()
    why = "Mother agrees to early help; the school will lead."
    store.decide(case["alert_id"], ScreeningDecision.UNIVERSAL_PLUS, "sw-1", NOW, why)
    [told] = store.outcomes(f"school:{YUSUFS_SCHOOL}")
    assert (
        told["outcome"] == "universal_plus" and f"concern raised {NOW:%d %b %Y}" in told["records"]
    )
    assert not store.outcomes(f"school:{MARYAMS_SCHOOL}")  # it raised nothing, sent nothing
