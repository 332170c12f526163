"""The policy file: the shipped one loads; a mistake stops start-up naming its line."""

from __future__ import annotations

from pathlib import Path

import pytest

from ehx.consent import PolicyInvalid, load_policy, parse_policy
from ehx.consent.policy import default_policy_path

SHIPPED = default_policy_path().read_text()


def test_the_shipped_policy_holds_every_criterion_the_board_asked_for() -> None:
    policy = load_policy()
    assert {rule.id for rule in policy.significant_harm} == {
        "domestic_abuse_high_risk_children_present",
        "weapon_child_victim_or_present",
        "injury_to_non_mobile_baby",
        "child_sexual_exploitation",
        "school_concern_significant_harm",
        "child_protection_plan",
        "repeated_missing_episodes",
        "child_exploitation_concern",
    }
    assert policy.practitioner_assertion.id == "practitioner_assertion"
    assert [n.id for n in policy.notifications] == ["operation_encompass"]


def line_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


@pytest.mark.parametrize(
    ("old", "new", "reason"),
    [
        ("dash_risk: [high]", "dash_risk: [high", "expected"),
        (
            "event_type: schools.safeguarding_concern",
            "event_type: schools.concern",
            "Input should be",
        ),
        (
            "payload: {concern_level: [significant_harm]}",
            "payload: {concern_levle: [significant_harm]}",
            "no payload field 'concern_levle'",
        ),
        (
            "    basis: operation_encompass",
            "    basis: encompass_act",
            "basis 'encompass_act' is not one of",
        ),
        ("override_review_hours: 72", "override_review_hours: -1", "greater than 0"),
        (
            "  schools: {purposes: [school_support, early_help_assessment, team_around_the_family",
            "  schools: {purposes: [school_suport, early_help_assessment, team_around_the_family",
            "Input should be",
        ),
        ("      recipients: [schools]\n", "      recipients: [school]\n", "Input should be"),
        ("  ledger_years: 12", "  ledger_years: 6", "longer than the longest retention period"),
    ],
    ids=[
        "broken YAML",
        "unknown event type",
        "misspelt payload field",
        "unknown lawful basis",
        "negative review time",
        "unknown purpose",
        "retention for an unknown recipient",
        "ledger kept shorter than what it describes",
    ],
)
def test_a_mistake_names_the_file_the_line_and_the_reason(
    tmp_path: Path, old: str, new: str, reason: str
) -> None:
    assert old in SHIPPED
    text = SHIPPED.replace(old, new, 1)
    path = tmp_path / "policy.yaml"
    path.write_text(text)
    with pytest.raises(PolicyInvalid) as refused:
        load_policy(path)
    assert reason in refused.value.reason
    assert str(path) in str(refused.value)
    if "basis" not in old:  # a cross-reference is reported at the rule that holds it
        assert refused.value.line is not None
        assert abs(refused.value.line - line_of(text, new.strip())) <= 3


def test_a_policy_that_is_not_a_mapping_is_refused() -> None:
    with pytest.raises(PolicyInvalid, match="a policy is a mapping"):
        parse_policy("- just a list\n")


def test_an_unreadable_policy_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(PolicyInvalid, match="cannot read it"):
        load_policy(tmp_path / "missing.yaml")


def test_a_retention_schedule_that_leaves_something_without_a_period_is_refused() -> None:
    text = SHIPPED.replace(
        "    - name: agency\n      years: 6",
        "    - name: agency\n      recipients: [police]\n      years: 6",
    )
    assert text != SHIPPED
    with pytest.raises(PolicyInvalid) as refused:
        parse_policy(text)
    assert "must cover everything" in refused.value.reason
