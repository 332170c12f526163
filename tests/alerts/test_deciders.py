"""Who screens an alert: the rule the API and the console share."""

from __future__ import annotations

import pytest

from ehx.alerts.deciders import AlertKind, closing_refusal, refusal
from ehx.schemas.vocabulary import Recipient


def test_a_significant_harm_alert_is_the_mash_s_and_the_refusal_says_so() -> None:
    assert refusal(AlertKind.SIGNIFICANT_HARM, Recipient.MASH) is None
    why = refusal(AlertKind.SIGNIFICANT_HARM, Recipient.EARLY_HELP)
    assert why == "a significant-harm alert is screened and decided by the MASH"


@pytest.mark.parametrize("team", [Recipient.MASH, Recipient.EARLY_HELP])
def test_the_early_help_hub_and_the_mash_screen_think_family_alerts(team: Recipient) -> None:
    assert refusal(AlertKind.THINK_FAMILY, team) is None


@pytest.mark.parametrize("team", [Recipient.SCHOOLS, Recipient.POLICE, None])
def test_nobody_else_screens_any_alert(team: Recipient | None) -> None:
    for kind in AlertKind:
        assert refusal(kind, team) is not None


def test_only_a_mash_manager_closes_a_significant_harm_alert_with_no_further_action() -> None:
    harm, think = AlertKind.SIGNIFICANT_HARM, AlertKind.THINK_FAMILY
    why = closing_refusal(harm, "no_further_action", "mash_screener")
    assert why is not None and "only by a MASH manager" in why
    assert closing_refusal(harm, "no_further_action", None) is not None  # no system either
    assert closing_refusal(harm, "no_further_action", "mash_manager") is None
    assert closing_refusal(harm, "s47_enquiry", "mash_screener") is None
    assert closing_refusal(think, "no_further_action", "early_help_practitioner") is None
