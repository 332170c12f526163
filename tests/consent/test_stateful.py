"""Random sequences of events, grants, refusals, withdrawals, assertions, reversals and time.

Whatever the order: every view a recipient gets comes with a recorded decision naming
its basis; no view is ever sent under a consent that is not in force; what was sent
under a consent that has since been withdrawn or expired can no longer be opened; and
what a recipient can still read is what the current consents and policy allow.
"""

from __future__ import annotations

from datetime import timedelta
from uuid import UUID

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from ehx.consent import (
    ConsentRecord,
    ConsentState,
    Decision,
    Giver,
    HarmAssertion,
    Outcome,
    OverrideReview,
    Purpose,
    ReviewOutcome,
    SubjectKind,
    decide_for,
)
from ehx.consent.decide import family_hits
from ehx.consent.engine import Outbox
from ehx.consent.keys import KeyDestroyed, open_box
from ehx.consent.rolls import serving
from ehx.consent.views import seal_context
from ehx.schemas import Category
from ehx.schemas.views import ShareView
from ehx.schemas.vocabulary import SERVING_KINDS, Addressee, Recipient
from tests.consent.fakes import linked_khans, memory_engine
from tests.records import NOW

KHANS = linked_khans()
PEOPLE = sorted({s.person_id or "" for e in KHANS for s in e.subjects})
FAMILY = KHANS[0].subjects[0].family_id or ""
ADULTS = sorted(
    {s.person_id or "" for e in KHANS for s in e.subjects if s.role.value in ("victim", "suspect")}
)


def readable(vault: object, view: ShareView) -> bool:
    """Whether any part of the view that names or describes a person still opens."""
    for subject in view.subjects:
        if subject.demographics is None:
            continue
        context = seal_context(view.event_id, view.recipient, f"person:{subject.person_id}")
        try:
            open_box(vault, subject.demographics, context)  # type: ignore[arg-type]
            return True
        except KeyDestroyed:
            pass
    return False


class ConsentMachine(RuleBasedStateMachine):
    @initialize()
    def start(self) -> None:
        self.engine, self.ledger, self.vault = memory_engine()
        self.now = NOW
        self.consents: dict[str, ConsentRecord] = {}
        self.ever_sent: list[ShareView] = []
        self.latest: dict[str, ShareView | None] = {}
        self.made = 0

    def next_id(self) -> UUID:
        """Ids in the order things happen: the same steps draw the same choices each run
        (a random id sorted into a list hypothesis samples from would not)."""
        self.made += 1
        return UUID(int=self.made)

    def take(self, out: Outbox) -> None:
        decided = {(d.decision_id, d.revision): d for d in out.decisions}
        for message in out.messages:
            decision = decided.get((message.decision_id, message.revision))
            assert decision is not None, "a view went out without a recorded decision"
            if isinstance(message, ShareView):
                assert decision.shares and decision.outcome.value == message.basis.outcome
                assert message.basis.consent_ids or message.basis.rule
                for consent_id in message.basis.consent_ids:
                    assert self.consents[consent_id].in_force(self.now), (
                        "sent under a consent not in force"
                    )
                self.ever_sent.append(message)
                self.latest[message.decision_id] = message
            else:
                self.latest[message.decision_id] = None
        self.ledger.save(out)

    @rule(index=st.integers(0, len(KHANS) - 1), days_ago=st.integers(0, 120), high=st.booleans())
    def an_event_arrives(self, index: int, days_ago: int, high: bool) -> None:
        event = KHANS[index]
        payload = event.payload
        if payload.kind == "police.incident" and high:
            payload = payload.model_copy(update={"dash_risk": "high"})
        fresh = event.model_copy(
            update={
                "event_id": self.next_id(),
                "payload": payload,
                "occurred_at": self.now - timedelta(days=days_ago),
            }
        )
        self.take(self.engine.on_events([fresh], self.now))

    @rule(
        person=st.sampled_from([None, *PEOPLE]),
        refused=st.booleans(),
        recipients=st.sets(st.sampled_from(list(Recipient)), min_size=1, max_size=3),
        categories=st.sets(st.sampled_from(list(Category)), min_size=1),
        purpose=st.sampled_from(list(Purpose)),
        days=st.integers(1, 60),
    )
    def consent_is_recorded(
        self,
        person: str | None,
        refused: bool,
        recipients: set[Recipient],
        categories: set[Category],
        purpose: Purpose,
        days: int,
    ) -> None:
        own = person is not None
        record = ConsentRecord(
            consent_id=self.next_id(),
            state=ConsentState.REFUSED if refused else ConsentState.GRANTED,
            subject_kind=SubjectKind.PERSON if own else SubjectKind.FAMILY,
            subject_id=person or FAMILY,
            given_by=person if own else ADULTS[0],
            giver=(Giver.ADULT if person in ADULTS else Giver.YOUNG_PERSON)
            if own
            else Giver.PARENT,
            recorded_by="ew-1",
            recorded_by_agency=Recipient.EARLY_HELP,
            recipients=tuple(sorted(recipients)),
            categories=tuple(sorted(categories)),
            purpose=purpose,
            valid_from=self.now,
            valid_until=self.now + timedelta(days=days),
            recorded_at=self.now,
        )
        self.consents[record.record_id] = record
        self.take(self.engine.on_record(record, self.now))

    @precondition(lambda self: any(c.in_force(self.now) for c in self.consents.values()))
    @rule(data=st.data())
    def consent_is_withdrawn(self, data: st.DataObject) -> None:
        live = sorted(k for k, c in self.consents.items() if c.in_force(self.now))
        chosen = self.consents[data.draw(st.sampled_from(live))]
        self.now += timedelta(minutes=1)
        withdrawn = chosen.withdraw("ew-1", self.now)
        self.consents[withdrawn.record_id] = withdrawn
        self.take(self.engine.on_record(withdrawn, self.now))

    @rule(days=st.integers(1, 40))
    def time_passes(self, days: int) -> None:
        self.now += timedelta(days=days)
        for expired in self.engine.expired(self.now):
            self.consents[expired.record_id] = expired
            self.take(self.engine.on_record(expired, self.now))

    @rule(person=st.sampled_from(PEOPLE))
    def a_practitioner_asserts_harm(self, person: str) -> None:
        assertion = HarmAssertion(
            assertion_id=self.next_id(),
            person_id=person,
            family_id=FAMILY,
            asserted_by="dsl-1",
            asserted_by_agency=Recipient.SCHOOLS,
            reason="Child disclosed violence at home this morning.",
            asserted_at=self.now,
        )
        self.take(self.engine.on_record(assertion, self.now))

    @precondition(
        lambda self: any(d.outcome is Outcome.OVERRIDE for d in self.ledger.decisions.values())
    )
    @rule(data=st.data())
    def a_manager_reverses_an_override(self, data: st.DataObject) -> None:
        overrides = sorted(
            k for k, d in self.ledger.decisions.items() if d.outcome is Outcome.OVERRIDE
        )
        review = OverrideReview(
            override_id=data.draw(st.sampled_from(overrides)),
            outcome=ReviewOutcome.REVERSED,
            reviewed_by="mgr-1",
            reviewed_at=self.now,
        )
        self.take(self.engine.on_record(review, self.now))

    @invariant()
    def nothing_readable_under_a_consent_that_ended(self) -> None:
        for view in self.ever_sent:
            if view.basis.outcome != "allow":
                continue
            ended = all(
                self.consents[c].state in (ConsentState.WITHDRAWN, ConsentState.EXPIRED)
                for c in view.basis.consent_ids
            )
            if ended:
                assert not readable(self.vault, view), "readable after its consent ended"

    @invariant()
    def what_is_held_is_what_the_current_state_allows(self) -> None:
        registry = self.engine.registry
        for decision_id, view in self.latest.items():
            if view is None:
                continue
            event = self.ledger.events_by_id[str(view.event_id)]
            hits = family_hits(
                event,
                self.engine.policy,
                lambda event=event: self.ledger.family_events({FAMILY}),  # type: ignore[misc]
                registry.assertions_for(event),
                registry.reversed_overrides,
            )
            to = Addressee.parse(view.recipient)
            served = None
            if to.recipient in SERVING_KINDS:  # as the roll on file says now
                orgs = serving(to.recipient.value, self.ledger.family_events({FAMILY}))
                people = {s.person_id or "unlinked" for s in event.subjects}
                anyone = {p for served in orgs.values() for p in served}
                served = orgs.get(to.code, frozenset()) if to.code else people - anyone
            now: Decision = decide_for(
                event,
                to.recipient,
                registry.for_event(event),
                self.engine.policy,
                hits,
                self.now,
                to.code,
                None if served is None else frozenset(served),
            )
            assert now.shares, f"{decision_id}: held but no basis allows it now"
            assert set(p.person_id for p in view.subjects) <= set(now.shared)


TestConsentSequences = ConsentMachine.TestCase
TestConsentSequences.settings = settings(
    max_examples=40,
    stateful_step_count=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
