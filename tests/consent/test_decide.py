"""Every consent state and every significant-harm rule, decided for the Khan family's events.

Amina (victim, mother), Imran (suspect, father), Yusuf and Maryam (children present),
as the shared example files describe them, linked into one family.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from ehx.consent import (
    ConsentRecord,
    ConsentState,
    Decision,
    Giver,
    HarmAssertion,
    Outcome,
    Purpose,
    SubjectKind,
    decide_for,
    harm_hits,
    load_policy,
    parse_policy,
)
from ehx.consent.policy import default_policy_path
from ehx.schemas import THINK_FAMILY_PROBLEMS, CanonicalEvent, Category, EventType, Role
from ehx.schemas.vocabulary import Recipient
from tests.consent.fakes import FAMILY, INCIDENT, KHANS, knife_found_on_child, missing, variant
from tests.records import NOW

POLICY = load_policy()
ROLE = {s.role: s.person_id or "" for s in INCIDENT.subjects}
AMINA, IMRAN = ROLE[Role.VICTIM], ROLE[Role.SUSPECT]
YUSUF = next(s.person_id or "" for s in INCIDENT.subjects if s.demographics.given_name == "Yusuf")
MARYAM = next(s.person_id or "" for s in INCIDENT.subjects if s.demographics.given_name == "Maryam")
ALL_CATEGORIES = tuple(Category)


def consent(**changes: Any) -> ConsentRecord:
    """The mother's consent for the family, in force, for early help; changed as asked."""
    fields: dict[str, Any] = {
        "state": ConsentState.GRANTED,
        "subject_kind": SubjectKind.FAMILY,
        "subject_id": FAMILY,
        "given_by": AMINA,
        "giver": Giver.PARENT,
        "recorded_by": "ew-0042",
        "recorded_by_agency": Recipient.EARLY_HELP,
        "recipients": (Recipient.EARLY_HELP, Recipient.SCHOOLS),
        "categories": ALL_CATEGORIES,
        "purpose": Purpose.EARLY_HELP_ASSESSMENT,
        "valid_from": NOW - timedelta(days=1),
        "recorded_at": NOW - timedelta(days=1),
    }
    fields.update(changes)
    return ConsentRecord(**fields)


def decided(
    recipient: Recipient, consents: list[ConsentRecord], event: CanonicalEvent = INCIDENT
) -> Decision:
    hits = harm_hits(event, POLICY, lambda: [])
    return decide_for(event, recipient, consents, POLICY, hits, NOW)


# --- consent states: (consents, recipient) -> outcome, who is shared, why not -------------

WITHDRAWN = consent().withdraw("ew-0042", NOW - timedelta(hours=1))
CASES: list[tuple[str, list[ConsentRecord], Recipient, Outcome, set[str], str]] = [
    (
        "granted: the mother and her children, not the father",
        [consent()],
        Recipient.EARLY_HELP,
        Outcome.ALLOW,
        {AMINA, YUSUF, MARYAM},
        "no consent recorded for this person",
    ),
    (
        "no consent at all: indicators only for the early help hub",
        [],
        Recipient.EARLY_HELP,
        Outcome.INDICATOR,
        {AMINA, IMRAN, YUSUF, MARYAM},
        "",
    ),
    (
        "no consent at all: nothing for health",
        [],
        Recipient.HEALTH,
        Outcome.DENY,
        set(),
        "no consent recorded for this person",
    ),
    (
        "refused",
        [consent(state=ConsentState.REFUSED)],
        Recipient.HEALTH,
        Outcome.DENY,
        set(),
        "consent does not name health",
    ),
    (
        "refused, for this recipient",
        [consent(state=ConsentState.REFUSED)],
        Recipient.EARLY_HELP,
        Outcome.INDICATOR,
        {AMINA},
        "consent refused",
    ),
    (
        "withdrawn",
        [WITHDRAWN],
        Recipient.EARLY_HELP,
        Outcome.INDICATOR,
        {AMINA},
        "consent withdrawn",
    ),
    (
        "expired",
        [consent(valid_from=NOW - timedelta(days=30), valid_until=NOW - timedelta(days=1))],
        Recipient.HEALTH,
        Outcome.DENY,
        set(),
        "consent expired",
    ),
    (
        "not yet valid",
        [consent(valid_from=NOW + timedelta(days=1))],
        Recipient.HEALTH,
        Outcome.DENY,
        set(),
        "consent not yet valid",
    ),
    (
        "wrong recipient",
        [consent(recipients=(Recipient.HOUSING,))],
        Recipient.HEALTH,
        Outcome.DENY,
        set(),
        "consent does not name health",
    ),
    (
        "wrong category",
        [consent(categories=(Category.HEALTH,))],
        Recipient.HEALTH,
        Outcome.DENY,
        set(),
        "consent does not name health",
    ),
    (
        "wrong category, named recipient",
        [consent(recipients=(Recipient.HEALTH,), categories=(Category.HEALTH,))],
        Recipient.HEALTH,
        Outcome.DENY,
        set(),
        "consent does not cover domestic_violence_abuse",
    ),
    (
        "wrong purpose",
        [consent(recipients=(Recipient.HOUSING,), purpose=Purpose.SCHOOL_SUPPORT)],
        Recipient.HOUSING,
        Outcome.DENY,
        set(),
        "consent's purpose school_support is not housing's",
    ),
    (
        "a young person's own consent covers only themselves",
        [
            consent(
                subject_kind=SubjectKind.PERSON,
                subject_id=YUSUF,
                given_by=YUSUF,
                giver=Giver.YOUNG_PERSON,
                recipients=(Recipient.HEALTH,),
                purpose=Purpose.HEALTH_SUPPORT,
            )
        ],
        Recipient.HEALTH,
        Outcome.ALLOW,
        {YUSUF},
        "no consent recorded for this person",
    ),
    (
        "a young person's refusal stands against a parent's consent",
        [
            consent(),
            consent(
                subject_kind=SubjectKind.PERSON,
                subject_id=YUSUF,
                given_by=YUSUF,
                giver=Giver.YOUNG_PERSON,
                state=ConsentState.REFUSED,
            ),
        ],
        Recipient.SCHOOLS,
        Outcome.ALLOW,
        {AMINA, MARYAM},
        "the young person refused consent",
    ),
    (
        "the father's own consent adds him",
        [
            consent(),
            consent(
                subject_kind=SubjectKind.PERSON, subject_id=IMRAN, given_by=IMRAN, giver=Giver.ADULT
            ),
        ],
        Recipient.EARLY_HELP,
        Outcome.ALLOW,
        {AMINA, IMRAN, YUSUF, MARYAM},
        "",
    ),
]


@pytest.mark.parametrize(
    ("consents", "recipient", "outcome", "shared", "why"),
    [pytest.param(*case[1:], id=case[0]) for case in CASES],
)
def test_consent_states(
    consents: list[ConsentRecord],
    recipient: Recipient,
    outcome: Outcome,
    shared: set[str],
    why: str,
) -> None:
    decision = decided(recipient, consents)
    assert decision.outcome is outcome, decision.reason
    assert set(decision.shared) >= shared
    if outcome is Outcome.ALLOW:
        assert set(decision.shared) == shared
        assert decision.consent_ids and decision.lawful_basis is None
    if why:
        reasons = [w.reason for w in decision.withheld] + [decision.reason]
        assert any(r.startswith(why) for r in reasons), reasons
    # Every decision names its basis, or why there is none.
    assert decision.consent_ids or decision.rule or decision.withheld


def test_details_are_only_shown_when_everyone_in_the_event_is_covered() -> None:
    partial = decided(Recipient.EARLY_HELP, [consent()])
    assert partial.outcome is Outcome.ALLOW and not partial.details
    imran = consent(
        subject_kind=SubjectKind.PERSON, subject_id=IMRAN, given_by=IMRAN, giver=Giver.ADULT
    )
    assert decided(Recipient.EARLY_HELP, [consent(), imran]).details


def test_the_source_agency_is_not_a_recipient_of_its_own_record() -> None:
    from ehx.consent import decide

    decisions = decide(INCIDENT, [], POLICY, [], NOW)
    assert {d.recipient for d in decisions} == set(Recipient) - {Recipient.POLICE}


# --- significant harm ---------------------------------------------------------------------


def of_type(event_type: EventType) -> CanonicalEvent:
    return next(e for e in KHANS if e.event_type is event_type)


def flag(kind: str) -> CanonicalEvent:
    from ehx.schemas import HealthFlag

    base = of_type(EventType.HEALTH_NOT_BROUGHT)
    return base.model_copy(
        update={
            "event_type": EventType.HEALTH_FLAG,
            "payload": HealthFlag.model_validate(
                {"flag": "Child protection plan", "flag_kind": kind}
            ),
            "categories": (Category.CHILD_IN_NEED_OR_PROTECTION,),
        }
    )


def concern(level: str) -> CanonicalEvent:
    return variant(of_type(EventType.SCHOOL_CONCERN), concern_level=level)


def baby_at_ed(reason: str, born_days_ago: int) -> CanonicalEvent:
    ed = of_type(EventType.HEALTH_ENCOUNTER)
    dob = (ed.occurred_at - timedelta(days=born_days_ago)).date()
    return variant(ed, {0: {"demographics": {"date_of_birth": dob}}}, reason=reason)


HARM: list[tuple[str, CanonicalEvent, str | None]] = [
    (
        "domestic abuse, DASH high, children present",
        variant(INCIDENT, dash_risk="high"),
        "domestic_abuse_high_risk_children_present",
    ),
    ("domestic abuse, DASH medium: not by itself", INCIDENT, None),
    (
        "domestic abuse, DASH high, no child present",
        variant(INCIDENT, dash_risk="high", children_present=False),
        None,
    ),
    (
        "weapon used with a child present",
        variant(INCIDENT, weapon_involved=True),
        "weapon_child_victim_or_present",
    ),
    ("a child carrying a knife (Corey): early help, not an override", knife_found_on_child(), None),
    (
        "head injury to a baby of four months",
        baby_at_ed("Bruising to head, fall reported", 120),
        "injury_to_non_mobile_baby",
    ),
    (
        "the same injury to a toddler of two",
        baby_at_ed("Bruising to head, fall reported", 730),
        None,
    ),
    (
        "child sexual exploitation concern",
        variant(INCIDENT, incident_type="child_sexual_exploitation_concern"),
        "child_sexual_exploitation",
    ),
    (
        "school concern at significant harm",
        concern("significant_harm"),
        "school_concern_significant_harm",
    ),
    ("school concern at high", concern("high"), None),
    ("child protection plan flag", flag("child_protection_plan"), "child_protection_plan"),
    (
        "unborn child protection plan flag",
        flag("unborn_child_protection_plan"),
        "child_protection_plan",
    ),
    ("looked after child flag", flag("looked_after_child"), None),
]


@pytest.mark.parametrize(("event", "rule"), [pytest.param(*c[1:], id=c[0]) for c in HARM])
def test_significant_harm_rules(event: CanonicalEvent, rule: str | None) -> None:
    hits = harm_hits(event, POLICY, lambda: [])
    mash = decide_for(event, Recipient.MASH, [], POLICY, hits, NOW)
    if rule is None:
        assert mash.outcome is Outcome.DENY
        return
    assert mash.outcome is Outcome.OVERRIDE and mash.rule == rule
    assert "Children Act 1989 s.47" in (mash.lawful_basis or "")
    assert "Sch. 1 para 18" in (mash.lawful_basis or "")
    assert str(event.event_id) in mash.evidence_event_ids
    assert mash.review_due == NOW + timedelta(hours=POLICY.override_review_hours)
    # An override opens the flow to the MASH only.
    for other in set(Recipient) - {Recipient.MASH}:
        if other.value != event.source.agency.value:
            assert decide_for(event, other, [], POLICY, hits, NOW).outcome is not Outcome.OVERRIDE


@pytest.mark.parametrize(
    ("days", "fires"),
    [((0, 30, 60), True), ((0, 60), False), ((0, 50, 100), False), ((0, 10, 20, 200), True)],
    ids=["three in 60 days", "two", "three over 100 days", "three of four in 20 days"],
)
def test_three_missing_episodes_within_90_days(days: tuple[int, ...], fires: bool) -> None:
    episodes = [missing(d) for d in days]
    latest, earlier = episodes[0], episodes[1:]
    hits = harm_hits(latest, POLICY, lambda: earlier)
    assert bool(hits) is fires
    if fires:
        assert len(hits[0].evidence) >= 3 and str(latest.event_id) in hits[0].evidence


def test_a_practitioners_assertion_opens_the_family_to_the_mash() -> None:
    housing = of_type(EventType.HOUSING_EVENT)
    assertion = HarmAssertion(
        person_id=YUSUF,
        family_id=FAMILY,
        asserted_by="dsl-17",
        asserted_by_agency=Recipient.SCHOOLS,
        reason="Disclosure of violence at home this morning; child afraid to go home.",
        asserted_at=NOW,
    )
    hits = harm_hits(housing, POLICY, lambda: [], [assertion])
    mash = decide_for(housing, Recipient.MASH, [], POLICY, hits, NOW)
    assert mash.outcome is Outcome.OVERRIDE and mash.rule == "practitioner_assertion"
    assert f"assertion:{assertion.assertion_id}" in mash.evidence_event_ids


def test_a_reversed_override_no_longer_fires() -> None:
    high = variant(INCIDENT, dash_risk="high")
    from ehx.consent.decide import override_id

    assert harm_hits(high, POLICY, lambda: [], (), frozenset({override_id(high.event_id)})) == []


def test_operation_encompass_tells_the_school_about_the_children_only() -> None:
    school = decided(Recipient.SCHOOLS, [])
    assert school.outcome is Outcome.NOTIFY and school.rule == "operation_encompass"
    roles = {s.person_id: s.role for s in INCIDENT.subjects}
    assert school.shared and all(roles[p] is Role.CHILD_PRESENT for p in school.shared)
    assert "Operation Encompass" in (school.lawful_basis or "")
    # Not a domestic abuse incident: no notification.
    assert (
        decided(Recipient.SCHOOLS, [], variant(INCIDENT, incident_type="assault")).outcome
        is Outcome.DENY
    )


def test_the_board_can_switch_indicators_off() -> None:
    text = default_policy_path().read_text().replace("  enabled: true", "  enabled: false")
    policy = parse_policy(text)
    decision = decide_for(INCIDENT, Recipient.EARLY_HELP, [], policy, [], NOW)
    assert decision.outcome is Outcome.DENY


def test_indicators_carry_only_think_family_categories() -> None:
    assert set(POLICY.indicators.categories) == THINK_FAMILY_PROBLEMS
    concern_event = of_type(
        EventType.SCHOOL_CONCERN
    )  # safeguarding concern: not a Think Family problem
    assert decided(Recipient.EARLY_HELP, [], concern_event).outcome is Outcome.DENY
