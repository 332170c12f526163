"""Consent: the registry, the sharing policy, the decisions, recipients' views and the service."""

from consent.decide import Decision, Outcome, RuleHit, Withheld, decide, decide_for, harm_hits
from consent.engine import ConsentEngine, ConsentLedger, Outbox, Shredded
from consent.keys import DataKeyStore, KeyDestroyed, KeyVault, open_box, seal
from consent.policy import Policy, PolicyInvalid, PolicySettings, load_policy, parse_policy
from consent.records import (
    ConsentRecord,
    ConsentState,
    Giver,
    HarmAssertion,
    OverrideReview,
    Purpose,
    ReviewOutcome,
    SubjectKind,
)
from consent.registry import ConsentRegistry, ConsentTopicRecord
from consent.service import ConsentService, consent_message, register_consent
from consent.store import ConsentStore
from consent.views import build_view, seal_context

__all__ = [
    "ConsentEngine",
    "ConsentLedger",
    "ConsentRecord",
    "ConsentRegistry",
    "ConsentService",
    "ConsentState",
    "ConsentStore",
    "ConsentTopicRecord",
    "DataKeyStore",
    "Decision",
    "Giver",
    "HarmAssertion",
    "KeyDestroyed",
    "KeyVault",
    "Outbox",
    "Outcome",
    "OverrideReview",
    "Policy",
    "PolicyInvalid",
    "PolicySettings",
    "Purpose",
    "ReviewOutcome",
    "RuleHit",
    "Shredded",
    "SubjectKind",
    "Withheld",
    "build_view",
    "consent_message",
    "decide",
    "decide_for",
    "harm_hits",
    "load_policy",
    "open_box",
    "parse_policy",
    "register_consent",
    "seal",
    "seal_context",
]
