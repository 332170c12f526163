"""The consent engine: events and consent changes in, decisions and recipient views out.

No Kafka here: the service feeds it and publishes what it returns. What it needs from
storage is one small port (``ConsentLedger``): the events a family already has on file
and the latest decision for each event and recipient.

- A new event is decided for every recipient; each sharing decision yields a view.
- A consent granted later re-decides the family's events on file for the recipients it
  names: what is now allowed flows.
- A withdrawal, refusal or expiry destroys the named recipients' keys for the people it
  covered (crypto-shredding) and re-decides: what no basis allows any more is retracted;
  what another basis still allows is sent again under a new key.
- A significant-harm assertion re-decides the family's events for the MASH; a reversed
  override retracts what the MASH received under it (unless another basis applies).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from broker.topics import Recipient
from consent.decide import Decision, Outcome, decide_for, harm_hits
from consent.keys import KeyVault
from consent.policy import Policy, is_child
from consent.records import ConsentRecord, ConsentState, HarmAssertion, SubjectKind
from consent.registry import ConsentRegistry, ConsentTopicRecord
from consent.views import build_view, retraction
from schemas import CanonicalEvent
from schemas.views import Retraction, ShareView


class ConsentLedger(Protocol):
    """What the engine reads back: events on file and the latest decisions."""

    def decided(self, event_ids: Sequence[str]) -> set[str]: ...
    def family_events(self, family_ids: Iterable[str]) -> list[CanonicalEvent]: ...
    def families_of(self, person_id: str) -> set[str]: ...
    def latest(self, decision_ids: Sequence[str]) -> dict[str, Decision]: ...


@dataclass(frozen=True)
class Shredded:
    """Keys destroyed, and why: recorded, so an auditor can see what became unreadable."""

    recipient: str
    person_id: str
    key_ids: tuple[str, ...]
    because: str


@dataclass
class Outbox:
    """What one step produced, for the service to publish and then store."""

    messages: list[ShareView | Retraction] = field(default_factory=list)
    decisions: list[Decision] = field(default_factory=list)
    held: list[CanonicalEvent] = field(default_factory=list)
    shredded: list[Shredded] = field(default_factory=list)
    replays: int = 0

    def merge(self, other: Outbox) -> None:
        self.messages += other.messages
        self.decisions += other.decisions
        self.held += other.held
        self.shredded += other.shredded
        self.replays += other.replays


@dataclass
class ConsentEngine:
    policy: Policy
    vault: KeyVault
    registry: ConsentRegistry
    ledger: ConsentLedger

    def on_events(self, events: Sequence[CanonicalEvent], now: datetime) -> Outbox:
        """Decide new linked events; events already decided (replays) are counted, not redone."""
        out = Outbox()
        done = self.ledger.decided([str(e.event_id) for e in events])
        self.vault.prefetch(s.person_id for e in events for s in e.subjects if s.person_id)
        pending: dict[str, list[CanonicalEvent]] = {}
        for event in events:
            event_id = str(event.event_id)
            if event_id in done:
                out.replays += 1
                continue
            done.add(event_id)
            families = {s.family_id for s in event.subjects if s.family_id}

            def history(families: set[str] = families) -> list[CanonicalEvent]:
                earlier = self.ledger.family_events(families)
                return earlier + [e for f in families for e in pending.get(f, [])]

            self._decide(event, list(Recipient), now, out, history=history)
            out.held.append(event)
            for family in families:
                pending.setdefault(family, []).append(event)
        return out

    def on_record(self, record: ConsentTopicRecord, now: datetime) -> Outbox:
        """Take in a consent change and re-decide what it touches."""
        previous = self.registry.apply(record)
        out = Outbox()
        if isinstance(record, ConsentRecord):
            if previous is not None and previous == record:
                return out  # the same state again (a replay of the topic)
            families = (
                {record.subject_id}
                if record.subject_kind is SubjectKind.FAMILY
                else self.ledger.families_of(record.subject_id)
            )
            events = self.ledger.family_events(families)
            earlier = previous.recipients if isinstance(previous, ConsentRecord) else ()
            recipients = set(record.recipients) | set(earlier)
            because = f"consent {record.state.value} (record {record.consent_id})"
            if record.state is not ConsentState.GRANTED:
                for recipient in sorted(recipients):
                    for person in sorted(_covered(record, events)):
                        ids = self.vault.destroy(recipient.value, person, because)
                        if ids:
                            out.shredded.append(
                                Shredded(recipient.value, person, tuple(ids), because)
                            )
            reissue = frozenset(s.person_id for s in out.shredded)
            for event in events:
                self._decide(event, sorted(recipients), now, out, reissue=reissue, because=because)
        elif isinstance(record, HarmAssertion):
            for event in self.ledger.family_events({record.family_id}):
                self._decide(event, [Recipient.MASH], now, out, because="assertion")
        else:
            events = [
                e
                for e in self.ledger.family_events(self._override_families(record.override_id))
                if f"{e.event_id}:{Recipient.MASH.value}" == record.override_id
            ]
            for event in events:
                self._decide(event, [Recipient.MASH], now, out, because="override reversed")
        return out

    def expired(self, now: datetime) -> list[ConsentRecord]:
        """Granted consents whose time has run out, as the records that say so."""
        return [
            c.expire()
            for c in self.registry.consents.values()
            if c.state is ConsentState.GRANTED
            and c.valid_until is not None
            and c.valid_until <= now
        ]

    def _override_families(self, override_id: str) -> set[str]:
        event_id = override_id.split(":", 1)[0]
        latest = self.ledger.latest([override_id]).get(override_id)
        return (
            {latest.family_id} if latest is not None and str(latest.event_id) == event_id else set()
        )

    def _decide(
        self,
        event: CanonicalEvent,
        recipients: Iterable[Recipient],
        now: datetime,
        out: Outbox,
        *,
        history: Callable[[], Sequence[CanonicalEvent]] | None = None,
        reissue: frozenset[str] = frozenset(),
        because: str = "",
    ) -> None:
        """Decide ``event`` for ``recipients``; a new event when ``history`` is given.

        A re-decision says something only where the decision changed, or where keys it
        relied on were destroyed (``reissue``) and the view must be sealed again.
        """
        new = history is not None
        wanted = [r for r in recipients if r.value != event.source.agency.value]
        if history is None:
            families = {s.family_id for s in event.subjects if s.family_id}

            def history() -> list[CanonicalEvent]:
                return self.ledger.family_events(families)

        hits = harm_hits(
            event,
            self.policy,
            history,
            self.registry.assertions_for(event),
            self.registry.reversed_overrides,
        )
        consents = self.registry.for_event(event)
        latest = {} if new else self.ledger.latest([f"{event.event_id}:{r.value}" for r in wanted])
        for recipient in wanted:
            decision = decide_for(event, recipient, consents, self.policy, hits, now)
            before = latest.get(decision.decision_id)
            resealed = bool(reissue.intersection(decision.shared))
            if not new:
                if before is None and not decision.shares:
                    continue
                if before is not None and _same(before, decision) and not resealed:
                    continue
            revision = before.revision + 1 if before is not None else 1
            if revision != decision.revision:
                decision = decision.model_copy(update={"revision": revision})
            out.decisions.append(decision)
            if decision.shares:
                roll = (
                    _school_roll(decision.shared, history())
                    if decision.outcome is Outcome.NOTIFY
                    else None
                )
                out.messages.append(
                    build_view(event, decision, self.policy, self.vault, now, revision, roll)
                )
            elif before is not None and before.shares:
                out.messages.append(retraction(decision, because or decision.reason, now, revision))


def _school_roll(people: Sequence[str], events: Sequence[CanonicalEvent]) -> dict[str, str]:
    """Each child's school, from the latest schools record about them in the family's file."""
    roll: dict[str, str] = {}
    for event in sorted(events, key=lambda e: e.occurred_at):
        urn = getattr(event.payload, "school_urn", None)
        if event.source.agency.value != "schools" or not urn:
            continue
        for subject in event.subjects:
            if subject.person_id and subject.person_id in people:
                roll[subject.person_id] = urn
    return roll


def _same(a: Decision, b: Decision) -> bool:
    keys = ("outcome", "shared", "consent_ids", "rule", "details", "view")
    return all(getattr(a, k) == getattr(b, k) for k in keys)


def _covered(consent: ConsentRecord, events: Sequence[CanonicalEvent]) -> set[str]:
    """The people a consent covered: its subject, or the family's children and the giver."""
    if consent.subject_kind is SubjectKind.PERSON:
        return {consent.subject_id}
    people = set()
    for event in events:
        for subject in event.subjects:
            if subject.family_id != consent.subject_id or not subject.person_id:
                continue
            if is_child(subject, event.occurred_at) or subject.person_id == consent.given_by:
                people.add(subject.person_id)
    return people
