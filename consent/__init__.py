"""Consent's rules: the registry, the sharing policy and the decisions (no Kafka, no database).

The service and its stores are wired in ``consent.service``, ``consent.store``, ``consent.keys``.
"""

from ehx.consent.decide import Decision, Outcome, RuleHit, Withheld, decide, decide_for, harm_hits
from ehx.consent.policy import Policy, PolicyInvalid, PolicySettings, load_policy, parse_policy
from ehx.consent.records import (
    ConsentRecord,
    ConsentState,
    Giver,
    HarmAssertion,
    OverrideReview,
    Purpose,
    ReviewOutcome,
    SubjectKind,
)
from ehx.consent.registry import ConsentRegistry, ConsentTopicRecord

__all__ = [
    "ConsentRecord",
    "ConsentRegistry",
    "ConsentState",
    "ConsentTopicRecord",
    "Decision",
    "Giver",
    "HarmAssertion",
    "Outcome",
    "OverrideReview",
    "Policy",
    "PolicyInvalid",
    "PolicySettings",
    "Purpose",
    "ReviewOutcome",
    "RuleHit",
    "SubjectKind",
    "Withheld",
    "decide",
    "decide_for",
    "harm_hits",
    "load_policy",
    "parse_policy",
]
