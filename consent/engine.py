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
- A relink (a reviewer merged two people or split a wrong merge) retracts what every
  recipient holds of the event under its old identity, then decides it afresh with its
  subjects' new person and family ids.
- A person marked restricted (see ``restriction``) has no address in any view from then
  on; what recipients already hold about her is made unreadable (her keys destroyed)
  and sent again without it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from ehx.consent.decide import (
    Decision,
    Outcome,
    RuleHit,
    decide_for,
    family_hits,
    family_of,
)
from ehx.consent.keys import KeyVault
from ehx.consent.policy import Policy, is_child
from ehx.consent.records import ConsentRecord, ConsentState, HarmAssertion, SubjectKind
from ehx.consent.registry import ConsentRegistry, ConsentTopicRecord
from ehx.consent.restriction import marked, restricted_in
from ehx.consent.rolls import school_roll, serving
from ehx.consent.views import build_view, retraction
from ehx.schemas import CanonicalEvent, Restriction
from ehx.schemas.links import JOINED, Relink
from ehx.schemas.views import Retraction, ShareView
from ehx.schemas.vocabulary import SERVING_KINDS, Recipient


class ConsentLedger(Protocol):
    """What the engine reads back: events on file and the latest decisions.

    ``families_on_file``: which of these families have any event on file (cheap: no
    event is read), so a family new to the ledger is not asked for its history.
    """

    def decided(self, event_ids: Sequence[str]) -> set[str]: ...
    def events(self, event_ids: Sequence[str]) -> dict[str, CanonicalEvent]: ...
    def family_events(self, family_ids: Iterable[str]) -> list[CanonicalEvent]: ...
    def families_on_file(self, family_ids: Iterable[str]) -> set[str]: ...
    def families_of(self, person_id: str) -> set[str]: ...
    def latest(self, decision_ids: Sequence[str]) -> dict[str, Decision]: ...
    def decisions_of(self, event_ids: Sequence[str]) -> dict[str, Decision]: ...
    def restricted(self, person_ids: Iterable[str]) -> set[str]: ...


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
    #: Events on file whose subjects now say other people or families: stored anew.
    relinked: list[CanonicalEvent] = field(default_factory=list)
    shredded: list[Shredded] = field(default_factory=list)
    #: People first marked restricted by this step's events, to be remembered.
    restricted: dict[str, Restriction] = field(default_factory=dict)
    replays: int = 0
    #: Relinks of events never decided here (quarantined before): nothing to move.
    unknown: int = 0
    _json: dict[tuple[str, int], bytes] = field(default_factory=dict, repr=False)
    _by_event: dict[str, dict[str, Decision]] = field(default_factory=dict, repr=False)
    _indexed: int = field(default=0, repr=False)
    #: Decisions on file about events this step decides again, read in one query.
    on_file: dict[str, dict[str, Decision]] = field(default_factory=dict, repr=False)
    #: The significant-harm rules each event fired by itself, as this step found them.
    fired: dict[str, list[RuleHit]] = field(default_factory=dict, repr=False)

    def decided_about(self, event_id: str) -> dict[str, Decision]:
        """This step's latest decisions about an event, by decision id."""
        for decision in self.decisions[self._indexed :]:
            made = self._by_event.setdefault(str(decision.event_id), {})
            before = made.get(decision.decision_id)
            if before is None or decision.revision > before.revision:
                made[decision.decision_id] = decision
        self._indexed = len(self.decisions)
        return self._by_event.get(event_id, {})

    def decision_json(self, decision: Decision) -> bytes:
        """A decision's JSON, serialised once for both its message and its row."""
        key = (decision.decision_id, decision.revision)
        found = self._json.get(key)
        if found is None:
            found = self._json[key] = decision.model_dump_json().encode()
        return found

    def merge(self, other: Outbox) -> None:
        self.messages += other.messages
        self.decisions += other.decisions
        self.held += other.held
        self.relinked += other.relinked
        self.shredded += other.shredded
        self.restricted.update(other.restricted)
        self.replays += other.replays
        self.unknown += other.unknown


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
        people = {s.person_id for e in events for s in e.subjects if s.person_id}
        self.vault.prefetch(people)
        known = self._restrict(events, people, now, out)
        pending: dict[str, list[CanonicalEvent]] = {}
        on_file = _BatchHistory(self.ledger, events)
        for event in events:
            event_id = str(event.event_id)
            if event_id in done:
                out.replays += 1
                continue
            done.add(event_id)
            families = {s.family_id for s in event.subjects if s.family_id}

            def history(families: set[str] = families) -> list[CanonicalEvent]:
                earlier = on_file.of(families)
                return earlier + [e for f in families for e in pending.get(f, [])]

            self._decide(
                event,
                list(Recipient),
                now,
                out,
                history=history,
                restricted=restricted_in(event, known),
            )
            out.held.append(event)
            for family in families:
                pending.setdefault(family, []).append(event)
        self._follow_rolls(pending, on_file, now, out, known)
        self._open_to_the_mash(pending, on_file, now, out, known)
        return out

    def _open_to_the_mash(
        self,
        batch: dict[str, list[CanonicalEvent]],
        on_file: _BatchHistory,
        now: datetime,
        out: Outbox,
        known: set[str],
    ) -> None:
        """Where significant harm fired in the batch, decide the family's earlier events
        again for the MASH: within the policy's scope they are overrides now too."""
        if self.policy.override_scope_months == 0:
            return
        fired = {
            str(d.event_id)
            for d in out.decisions
            if d.recipient is Recipient.MASH
            and d.outcome is Outcome.OVERRIDE
            and str(d.event_id) in d.evidence_event_ids
        }
        for family, arrived in batch.items():
            trigger = next((i for i, e in enumerate(arrived) if str(e.event_id) in fired), None)
            if trigger is None:
                continue
            earlier = on_file.of({family})
            everything = [*earlier, *arrived]
            # Events after the trigger in the batch were decided knowing of it already.
            again = [*earlier, *arrived[:trigger]]
            self._again(
                again, Recipient.MASH, everything, now, out, known, "significant harm in the family"
            )

    def _follow_rolls(
        self,
        batch: dict[str, list[CanonicalEvent]],
        on_file: _BatchHistory,
        now: datetime,
        out: Outbox,
        known: set[str],
    ) -> None:
        """Where the batch changed whom a school, trust or landlord serves in a family (a
        pupil's first record from a new school, a new trust treating someone), decide the
        family's events again for that kind: the new organisation gets what it may see
        of them, one that no longer serves them gets nothing more, and a notification
        made while no school was known goes to the child's school."""
        for family, arrived in batch.items():
            kinds = {
                Recipient(e.source.agency.value)
                for e in arrived
                if e.source.agency.value in _SERVING_AGENCIES
            }
            if not kinds:
                continue
            earlier = on_file.of({family})
            everything = [*earlier, *arrived]
            changed = [
                kind
                for kind in sorted(kinds)
                if serving(kind.value, earlier) != serving(kind.value, everything)
            ]
            for kind in changed:
                # Events decided after the batch's last record of this kind saw the roll
                # as it now is; those before it, and those on file, did not.
                last = max(i for i, e in enumerate(arrived) if e.source.agency.value == kind)
                again = [*earlier, *arrived[:last]]
                because = "the organisations serving the family changed"
                self._again(again, kind, everything, now, out, known, because)

    def _again(
        self,
        events: Sequence[CanonicalEvent],
        recipient: Recipient,
        everything: Sequence[CanonicalEvent],
        now: datetime,
        out: Outbox,
        known: set[str],
        because: str,
    ) -> None:
        """Decide a family's events again for one recipient, the family on file being
        ``everything`` (on file and in the batch) after what the batch changed."""
        self._prefetch(events, out)
        for event in events:
            self._decide(
                event,
                [recipient],
                now,
                out,
                on_file=everything,
                because=because,
                restricted=restricted_in(event, known),
            )

    def on_relinks(self, relinks: Sequence[Relink], now: datetime) -> Outbox:
        """Events linked again: withdraw them from everyone, then decide them afresh.

        Retracting first, whatever the new decision, means no recipient keeps anything
        under an identity that was wrong; a recipient still entitled gets the event back
        under the right person and family, in the next revision. A relink that changes
        nothing on file (a replay) is counted, not redone.
        """
        out = Outbox()
        stored = self.ledger.events([str(r.event_id) for r in relinks])
        for relink in relinks:
            event = stored.get(str(relink.event_id))
            if event is None:
                out.unknown += 1
                continue
            moved = relinked(event, relink)
            if moved == event:
                out.replays += 1
                continue
            stored[str(moved.event_id)] = moved
            because = (
                f"relinked: {relink.cause}"
                if relink.cause.startswith(JOINED)
                else f"relinked after review {relink.cause}"
            )
            wanted = [r for r in Recipient if r.value != event.source.agency.value]
            floor: dict[str, int] = {}
            for before in self.ledger.decisions_of([str(event.event_id)]).values():
                floor[before.decision_id] = before.revision
                if before.shares:
                    gone = withdrawn(before, because, now)
                    floor[before.decision_id] = gone.revision
                    out.decisions.append(gone)
                    out.messages.append(retraction(gone, because, now, gone.revision))
            families = {s.family_id for s in moved.subjects if s.family_id}

            def history(
                families: set[str] = families, moved: CanonicalEvent = moved
            ) -> list[CanonicalEvent]:
                earlier = self.ledger.family_events(families)
                return [e for e in earlier if e.event_id != moved.event_id] + [moved]

            people = {s.person_id for s in moved.subjects if s.person_id}
            self.vault.prefetch(people)
            known = self.ledger.restricted(people) | set(marked([moved]))
            self._decide(
                moved,
                wanted,
                now,
                out,
                history=history,
                floor=floor,
                restricted=restricted_in(moved, known),
            )
            out.relinked.append(moved)
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
            self._redecide(events, sorted(recipients), now, out, because, reissue)
        elif isinstance(record, HarmAssertion):
            events = self.ledger.family_events({record.family_id})
            self._redecide(events, [Recipient.MASH], now, out, "assertion")
        else:
            # The whole family: what the reversed override opened to the MASH beyond its
            # own event (the family's other events in scope) is taken back with it.
            events = self.ledger.family_events(self._override_families(record.override_id))
            self._redecide(events, [Recipient.MASH], now, out, "override reversed")
        return out

    def _redecide(
        self,
        events: Sequence[CanonicalEvent],
        recipients: Sequence[Recipient],
        now: datetime,
        out: Outbox,
        because: str,
        reissue: frozenset[str] = frozenset(),
    ) -> None:
        """Decide events on file again for ``recipients``, restricted people withheld."""
        people = {s.person_id for e in events for s in e.subjects if s.person_id}
        known = self.ledger.restricted(people) | set(marked(events))
        self._prefetch(events, out)
        for event in events:
            self._decide(
                event,
                recipients,
                now,
                out,
                on_file=events,
                reissue=reissue,
                because=because,
                restricted=restricted_in(event, known),
            )

    def _restrict(
        self, events: Sequence[CanonicalEvent], people: set[str], now: datetime, out: Outbox
    ) -> set[str]:
        """The batch's restricted people; for anyone newly marked, withhold what is held.

        Done before the batch is decided: the keys destroyed here must not be the ones
        the batch's own views are about to be sealed with.
        """
        on_record = self.ledger.restricted(people)
        marks = marked(events)
        new = {p: m for p, m in marks.items() if p not in on_record}
        known = on_record | set(marks)
        if not new:
            return known
        out.restricted.update(new)
        because = "restricted record: address withheld"
        families = {
            s.family_id for e in events for s in e.subjects if s.person_id in new and s.family_id
        }
        family = self.ledger.family_events(families)
        earlier = [e for e in family if any(s.person_id in new for s in e.subjects)]
        if not earlier:
            return known
        for recipient in Recipient:
            for person in sorted(new):
                ids = self.vault.destroy(recipient.value, person, because)
                if ids:
                    out.shredded.append(Shredded(recipient.value, person, tuple(ids), because))
        for event in earlier:
            self._decide(
                event,
                list(Recipient),
                now,
                out,
                on_file=family,
                reissue=frozenset(s.person_id for s in event.subjects if s.person_id),
                because=because,
                restricted=restricted_in(event, known),
            )
        return known

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
        on_file: Sequence[CanonicalEvent] | None = None,
        reissue: frozenset[str] = frozenset(),
        because: str = "",
        floor: dict[str, int] | None = None,
        restricted: frozenset[str] = frozenset(),
    ) -> None:
        """Decide ``event`` for ``recipients``; a new event when ``history`` is given.

        A re-decision says something only where the decision changed, or where keys it
        relied on were destroyed (``reissue``) and the view must be sealed again.
        ``on_file``: the family's events, where the caller has them already.
        ``floor``: for an event decided afresh (a relink), the revisions already used.
        """
        new = history is not None
        wanted = [r for r in recipients if r.value != event.source.agency.value]
        if history is None:
            families = {s.family_id for s in event.subjects if s.family_id}

            def history() -> Sequence[CanonicalEvent]:
                return on_file if on_file is not None else self.ledger.family_events(families)

        hits = family_hits(
            event,
            self.policy,
            history,
            self.registry.assertions_for(event),
            self.registry.reversed_overrides,
            out.fired,
        )
        consents = self.registry.for_event(event)
        latest = {} if new else self._latest(str(event.event_id), out)
        for recipient, organisation, served in addressees(event, wanted, history, latest):
            decision = decide_for(
                event, recipient, consents, self.policy, hits, now, organisation, served
            )
            before = latest.get(decision.decision_id)
            resealed = bool(reissue.intersection(decision.shared))
            if not new:
                if before is None and not decision.shares:
                    continue
                if before is not None and _same(before, decision) and not resealed:
                    continue
            revision = before.revision + 1 if before is not None else 1
            if floor:
                revision = floor.get(decision.decision_id, 0) + 1
            if revision != decision.revision:
                decision = decision.model_copy(update={"revision": revision})
            out.decisions.append(decision)
            if decision.shares:
                roll = school_roll(decision.notified, history()) if decision.notified else None
                out.messages.append(
                    build_view(
                        event, decision, self.policy, self.vault, now, revision, roll, restricted
                    )
                )
            elif before is not None and before.shares:
                out.messages.append(retraction(decision, because or decision.reason, now, revision))

    def _prefetch(self, events: Sequence[CanonicalEvent], out: Outbox) -> None:
        """Read the decisions on file about events about to be decided again, at once."""
        wanted = [str(e.event_id) for e in events if str(e.event_id) not in out.on_file]
        for event_id in wanted:
            out.on_file[event_id] = {}
        for decision_id, decision in self.ledger.decisions_of(wanted).items():
            out.on_file[str(decision.event_id)][decision_id] = decision

    def _latest(self, event_id: str, out: Outbox) -> dict[str, Decision]:
        """The latest decisions about an event: on file, or made earlier in this step."""
        if event_id in out.on_file:
            latest = dict(out.on_file[event_id])
        else:
            latest = self.ledger.decisions_of([event_id])
        for decision in out.decided_about(event_id).values():
            before = latest.get(decision.decision_id)
            if before is None or decision.revision > before.revision:
                latest[decision.decision_id] = decision
        return latest


def addressees(
    event: CanonicalEvent,
    recipients: Sequence[Recipient],
    history: Callable[[], Sequence[CanonicalEvent]],
    earlier: Mapping[str, Decision],
) -> list[tuple[Recipient, str | None, frozenset[str] | None]]:
    """Whom to decide ``event`` for: each recipient, and for schools, trusts and
    landlords each organisation serving someone in it (with those people), from the
    family's records when it is decided.

    An organisation decided for before is decided again (a pupil who left is no longer
    its to hear about: what it held is taken back if the decision changes). People no
    organisation of a kind serves are decided for the kind itself, for what is
    statutory only: an Operation Encompass notification for a child on no roll we hold.
    """
    people = {s.person_id or "unlinked" for s in event.subjects}
    found: list[tuple[Recipient, str | None, frozenset[str] | None]] = []
    on_file: Sequence[CanonicalEvent] | None = None
    for recipient in recipients:
        if recipient not in SERVING_KINDS:
            found.append((recipient, None, None))
            continue
        on_file = history() if on_file is None else on_file
        mine = {
            code: served & people
            for code, served in serving(recipient.value, on_file).items()
            if served & people
        }
        held_before = {d.organisation for d in earlier.values() if d.recipient is recipient}
        for code in held_before - {None}:
            mine.setdefault(str(code), frozenset())
        found += [(recipient, code, served) for code, served in sorted(mine.items())]
        unserved = frozenset(people - {p for served in mine.values() for p in served})
        if unserved or not mine or None in held_before:
            found.append((recipient, None, unserved))
    return found


#: The agencies whose records say whom one of their organisations serves.
_SERVING_AGENCIES = frozenset(kind.value for kind in SERVING_KINDS)


class _BatchHistory:
    """A batch's families' history on file, asked of the ledger only where there is one.

    A rule that looks back (repeat incidents, a child's school) asks for the family's
    history while its event is decided. On a stream of new families (the Monday-morning
    backlog of police incidents) every such question went to the ledger and found
    nothing: a quarter of the consent service's time. One read per batch says which
    families have anything on file; the others' history is what this batch brings.
    """

    def __init__(self, ledger: ConsentLedger, events: Sequence[CanonicalEvent]) -> None:
        self._ledger = ledger
        self._families = {s.family_id for e in events for s in e.subjects if s.family_id}
        self._on_file: set[str] | None = None
        self._read: dict[str, dict[str, CanonicalEvent]] = {}

    def of(self, families: set[str]) -> list[CanonicalEvent]:
        """As ``ledger.family_events(families)``; each family read once a batch."""
        if self._on_file is None:
            self._on_file = self._ledger.families_on_file(self._families)
        on_file = families & self._on_file
        missing = on_file - self._read.keys()
        if missing:
            for family in missing:
                self._read[family] = {}
            for event in self._ledger.family_events(missing):
                families_of = {s.family_id for s in event.subjects if s.family_id}
                for family in (families_of or {family_of(event)}) & missing:
                    self._read[family][str(event.event_id)] = event
        found = {i: e for f in on_file for i, e in self._read[f].items()}
        return sorted(found.values(), key=lambda e: (e.occurred_at, str(e.event_id)))


def relinked(event: CanonicalEvent, relink: Relink) -> CanonicalEvent:
    """The event with its subjects' person, family and confidence as the relink says."""
    links = {link.index: link for link in relink.subjects}
    subjects = tuple(
        subject.model_copy(
            update={
                "person_id": links[index].person_id,
                "family_id": links[index].family_id,
                "match_confidence": links[index].match_confidence,
            }
        )
        if index in links
        else subject
        for index, subject in enumerate(event.subjects)
    )
    return event.model_copy(update={"subjects": subjects})


def withdrawn(before: Decision, because: str, now: datetime) -> Decision:
    """The next revision of a sharing decision, taking it back: nothing shared, and why."""
    return Decision(
        decision_id=before.decision_id,
        revision=before.revision + 1,
        event_id=before.event_id,
        family_id=before.family_id,
        source_agency=before.source_agency,
        recipient=before.recipient,
        outcome=Outcome.DENY,
        reason=because,
        decided_at=now,
    )


def _same(a: Decision, b: Decision) -> bool:
    keys = ("outcome", "shared", "consent_ids", "rule", "details", "view", "notified")
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
