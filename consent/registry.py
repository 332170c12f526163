"""The consent registry: the latest state of every record on ``ehx.consent``, indexed by subject."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from ehx.consent.decide import override_id
from ehx.consent.records import (
    ConsentRecord,
    HarmAssertion,
    OverrideReview,
    ReviewOutcome,
)
from ehx.schemas import CanonicalEvent

ConsentTopicRecord = ConsentRecord | HarmAssertion | OverrideReview


@dataclass
class ConsentRegistry:
    """Consents by subject, standing assertions, and reviewed overrides. Pure, in memory."""

    consents: dict[str, ConsentRecord] = field(default_factory=dict)
    assertions: dict[str, HarmAssertion] = field(default_factory=dict)
    reviews: dict[str, OverrideReview] = field(default_factory=dict)
    _by_subject: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))

    @classmethod
    def of(cls, records: Iterable[ConsentTopicRecord]) -> ConsentRegistry:
        registry = cls()
        for record in records:
            registry.apply(record)
        return registry

    def apply(self, record: ConsentTopicRecord) -> ConsentTopicRecord | None:
        """Take in one record; return what it replaces (the same id's earlier state)."""
        if isinstance(record, ConsentRecord):
            previous = self.consents.get(record.record_id)
            self.consents[record.record_id] = record
            self._by_subject[record.subject_id].add(record.record_id)
            return previous
        if isinstance(record, HarmAssertion):
            return self.assertions.setdefault(record.record_id, record)
        before = self.reviews.get(record.override_id)
        self.reviews[record.override_id] = record
        return before

    def for_event(self, event: CanonicalEvent) -> list[ConsentRecord]:
        """Every consent about any person in the event, or any of their families."""
        keys = {s.person_id for s in event.subjects} | {s.family_id for s in event.subjects}
        ids = set().union(*(self._by_subject.get(k, set()) for k in keys if k))
        return [self.consents[i] for i in sorted(ids)]

    def assertions_for(self, event: CanonicalEvent) -> list[HarmAssertion]:
        people = {s.person_id for s in event.subjects}
        families = {s.family_id for s in event.subjects}
        return [
            a for a in self.assertions.values() if a.person_id in people or a.family_id in families
        ]

    @property
    def reversed_overrides(self) -> frozenset[str]:
        return frozenset(
            override
            for override, review in self.reviews.items()
            if review.outcome is ReviewOutcome.REVERSED
        )

    def reversed(self, event: CanonicalEvent) -> bool:
        return override_id(event.event_id) in self.reversed_overrides
