"""Cumulative risk (issue 31, seventh finding): a child missing overnight with older
males, showing cuts to a form tutor, and in A&E after a paracetamol overdose raised
nothing, each record alone below every threshold, until a DSL asserted harm by hand."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import Engine

from ehx.alerts.store import AlertStore
from ehx.consent import Outcome, load_policy
from ehx.consent.decide import harm_hits
from ehx.schemas import CanonicalEvent, Role
from ehx.schemas.views import ShareView
from ehx.schemas.vocabulary import Recipient
from tests.consent.fakes import KHANS, memory_engine, variant
from tests.records import NOW

SCREENING = load_policy().screening

POLICY = load_policy()
RULE = "child_exploitation_concern"


def yusuf_as(role: Role) -> object:
    pupil = next(s for e in KHANS for s in e.subjects if s.demographics.given_name == "Yusuf")
    return pupil.model_copy(update={"role": role})


def signs() -> list[CanonicalEvent]:
    """Three agencies' records about Yusuf (12) within a fortnight, none alarming alone."""
    police, health, concern = KHANS[1], KHANS[2], KHANS[6]
    missing = variant(
        police,
        incident_type="missing_person",
        summary="Reported missing overnight; found at 03:00 in a car with two older males.",
    ).model_copy(update={"subjects": (yusuf_as(Role.MISSING_PERSON),)})
    cuts = variant(concern, concern_category="self_harm", concern_level="medium").model_copy(
        update={
            "subjects": (yusuf_as(Role.PUPIL),),
            "occurred_at": missing.occurred_at + timedelta(days=3),
        }
    )
    overdose = variant(health, reason="Paracetamol overdose, 16 tablets").model_copy(
        update={
            "subjects": (yusuf_as(Role.PATIENT),),
            "occurred_at": missing.occurred_at + timedelta(days=9),
        }
    )
    return [missing, cuts, overdose]


def test_each_sign_alone_is_below_every_threshold_and_together_they_fire() -> None:
    missing, cuts, overdose = signs()
    for event in (missing, cuts, overdose):
        assert harm_hits(event, POLICY, lambda: ()) == []
    [hit] = harm_hits(overdose, POLICY, lambda: (missing, cuts))
    assert hit.rule == RULE
    assert set(hit.evidence) == {str(e.event_id) for e in (missing, cuts, overdose)}
    assert set(hit.signs) >= {
        "a missing episode",
        "seen with older associates",
        "self-harm seen or disclosed at school",
        "an emergency attendance for self-harm or an overdose",
    }
    # Outside the window, the earliest sign no longer counts: two are not enough.
    long_before = missing.model_copy(
        update={"occurred_at": overdose.occurred_at - timedelta(days=120)}
    )
    only_two = cuts.model_copy(update={"occurred_at": overdose.occurred_at})
    assert harm_hits(overdose, POLICY, lambda: (long_before,)) == []
    assert [h.rule for h in harm_hits(overdose, POLICY, lambda: (only_two, long_before))] == []


def test_the_mash_gets_the_signs_and_the_alert_lists_them(sqlite_engine: Engine) -> None:
    engine, ledger, _ = memory_engine()
    events = signs()
    for event in events:  # as they arrive, days apart
        out = engine.on_events([event], NOW)
        ledger.save(out)
    mash = {d.event_id: d for d in ledger.decisions.values() if d.recipient is Recipient.MASH}
    # The third sign fires the rule; the family's earlier records reach the MASH with it.
    assert all(mash[e.event_id].outcome is Outcome.OVERRIDE for e in events)
    views = [
        m
        for m in out.messages
        if isinstance(m, ShareView) and m.recipient == "mash" and m.basis.signs
    ]
    assert views
    store = AlertStore(sqlite_engine)
    store.refresh(views[0].family_id, views, NOW, SCREENING)
    [alert] = store.queue()
    assert alert["kind"] == "significant_harm"
    assert any(RULE in r for r in alert["reasons"])
    [listed] = [r for r in alert["reasons"] if r.startswith("signs that add up: ")]
    assert "a missing episode" in listed and "an overdose" in listed
