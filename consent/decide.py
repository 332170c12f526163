"""The decision: for one event and one recipient, allow, deny, override, notify or indicate.

Pure: no Kafka, no database. Default deny. Each person in an event is decided on their
own consent; a recipient allowed to hear about the children is not thereby told about
the adults. The order of bases, strongest first:

1. **override** (MASH only): a significant-harm rule fired, or a practitioner asserted it;
2. **allow**: consent in force covers the person, this recipient, every category of the
   event and a purpose this recipient serves;
3. **notify**: a statutory notification (Operation Encompass) names this recipient;
4. **indicator**: the early help hub's indicators-only basis, if policy switches it on;
5. **deny**, naming why for each person.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError

from ehx.consent.policy import HarmRule, Notification, Policy, is_child
from ehx.consent.records import ConsentRecord, ConsentState, Giver, HarmAssertion, SubjectKind
from ehx.schemas import CanonicalEvent, Recipient, Subject, family_key
from ehx.schemas.vocabulary import Addressee


class Outcome(StrEnum):
    ALLOW = "allow"
    DENY = "deny"
    OVERRIDE = "override"
    NOTIFY = "notify"
    INDICATOR = "indicator"


#: Outcomes under which a recipient receives a view.
SHARED = frozenset({Outcome.ALLOW, Outcome.OVERRIDE, Outcome.NOTIFY, Outcome.INDICATOR})


class Withheld(BaseModel):
    model_config = ConfigDict(frozen=True)

    person_id: str
    reason: str


class Decision(BaseModel):
    """One event, one recipient: what was decided, on what basis. Ids only, no content."""

    model_config = ConfigDict(frozen=True)

    decision_id: str
    #: Counts up each time this event is decided again for this recipient (a consent
    #: given later, a withdrawal, an assertion, a reversal); the highest wins.
    revision: int = 1
    event_id: UUID
    family_id: str
    source_agency: str
    recipient: Recipient
    #: Which school, trust or landlord (its code): the one serving the people shared.
    organisation: str | None = None
    outcome: Outcome
    #: Person ids whose information the recipient's view carries.
    shared: tuple[str, ...] = ()
    withheld: tuple[Withheld, ...] = ()
    consent_ids: tuple[str, ...] = ()
    rule: str | None = None
    lawful_basis: str | None = None
    evidence_event_ids: tuple[str, ...] = ()
    #: Whether free text (narratives, reasons) may be shown: only when nobody is withheld.
    details: bool = False
    view: str | None = None
    #: The people a statutory notification names (Operation Encompass: the children
    #: present), whatever else the recipient is given under consent: it is owed anyway.
    notified: tuple[str, ...] = ()
    #: For an override a cumulative-risk rule made: the signs that added up, in words.
    signs: tuple[str, ...] = ()
    reason: str
    decided_at: AwareDatetime
    review_due: AwareDatetime | None = None

    @property
    def shares(self) -> bool:
        return self.outcome in SHARED

    @property
    def addressee(self) -> Addressee:
        return Addressee(self.recipient, self.organisation)


class EventDecisions(BaseModel):
    """One message on ``ehx.decisions``: every decision one step made about one event.

    One message an event, not one a decision: five recipients made five messages an event,
    the largest share of what the topology carried (``ehx bench --suite pipeline``), for
    a reader (the audit ledger) that takes them all together anyway.
    """

    model_config = ConfigDict(frozen=True)

    decisions: tuple[Decision, ...] = Field(min_length=1)


def decisions_message(decisions: Sequence[bytes]) -> bytes:
    """An ``EventDecisions`` message from its decisions' JSON, serialised once already
    for the rows they are stored in (``Outbox.decision_json``)."""
    return b'{"decisions":[' + b",".join(decisions) + b"]}"


def read_decisions(value: bytes) -> tuple[Decision, ...]:
    """The decisions in one ``ehx.decisions`` message; ``ValidationError`` if it is not one.

    A single decision, as earlier versions published them, is read too: a topic keeps
    them, and the ledger may read it again from the start. (Tried in turn, not as a
    union: a union validates each message against both.)
    """
    try:
        return EventDecisions.model_validate_json(value).decisions
    except ValidationError as refused:
        try:
            return (Decision.model_validate_json(value),)
        except ValidationError:
            raise refused from None


@dataclass(frozen=True)
class RuleHit:
    """A significant-harm rule that fired, and the events (or assertion) behind it."""

    rule: str
    evidence: tuple[str, ...]
    #: For a cumulative-risk rule: the signs that added up, in plain words.
    signs: tuple[str, ...] = ()


def harm_hits(
    event: CanonicalEvent,
    policy: Policy,
    history: Callable[[], Sequence[CanonicalEvent]] = tuple,
    assertions: Sequence[HarmAssertion] = (),
    reversed_overrides: frozenset[str] = frozenset(),
) -> list[RuleHit]:
    """Which significant-harm rules fire for this event.

    ``history`` gives the family's earlier events; it is called only when a repeated
    rule (missing episodes) needs them.
    """
    if override_id(event.event_id) in reversed_overrides:
        return []
    hits = []
    for rule in policy.significant_harm:
        if event.event_type not in rule.event_types:
            continue
        if rule.cumulative is not None:
            added = _signs_add_up(rule, event, history)
            if added is not None:
                hits.append(added)
            continue
        subjects = rule.subjects(event)
        if not subjects:
            continue
        if rule.repeated is None:
            hits.append(RuleHit(rule.id, (str(event.event_id),)))
            continue
        earlier = history()
        for subject in subjects:
            ids = _episodes(rule, subject.person_id, event, earlier)
            if len(ids) >= rule.repeated.count:
                hits.append(RuleHit(rule.id, tuple(ids)))
                break
    people = {s.person_id for s in event.subjects}
    families = {s.family_id for s in event.subjects}
    for assertion in assertions:
        if assertion.person_id in people or assertion.family_id in families:
            hits.append(
                RuleHit(
                    policy.practitioner_assertion.id,
                    (str(event.event_id), f"assertion:{assertion.assertion_id}"),
                )
            )
    return hits


def family_hits(
    event: CanonicalEvent,
    policy: Policy,
    history: Callable[[], Sequence[CanonicalEvent]] = tuple,
    assertions: Sequence[HarmAssertion] = (),
    reversed_overrides: frozenset[str] = frozenset(),
    fired: dict[str, list[RuleHit]] | None = None,
) -> list[RuleHit]:
    """The significant-harm rules that open this event to the MASH: its own, or, where
    none fires for it, those that fired for another event of its family within the
    policy's scope (``override_scope_months`` either side). The MASH screens the family,
    not one incident: the attendance, the landlord's note, the next incident too.

    ``fired``: the rules each event of the family fired by itself, kept by the caller
    across one step's events (a family's history is walked once for each of its events).
    """
    own = harm_hits(event, policy, history, assertions, reversed_overrides)
    if own or policy.override_scope_months == 0:
        return own
    if override_id(event.event_id) in reversed_overrides:
        return []  # a manager reversed what the family's override opened of this one
    months = timedelta(days=round(policy.override_scope_months * 30.44))
    families = {s.family_id for s in event.subjects if s.family_id}
    evidence: dict[str, dict[str, None]] = {}  # rule -> the events behind it, in order
    earlier = history()
    for other in earlier:
        if other.event_id == event.event_id or abs(other.occurred_at - event.occurred_at) > months:
            continue
        if other.event_type not in policy.harm_event_types:
            continue  # cheap first: most events can fire no rule at all
        if not families & {s.family_id for s in other.subjects}:
            continue
        key = str(other.event_id)
        found = fired.get(key) if fired is not None else None
        if found is None:
            found = harm_hits(other, policy, lambda: earlier, (), reversed_overrides)
            if fired is not None:
                fired[key] = found
        for hit in found:
            evidence.setdefault(hit.rule, {}).update(dict.fromkeys(hit.evidence))
    return [RuleHit(rule, tuple(ids)) for rule, ids in evidence.items()]


def _signs_add_up(
    rule: HarmRule, event: CanonicalEvent, history: Callable[[], Sequence[CanonicalEvent]]
) -> RuleHit | None:
    """A cumulative-risk rule's hit: where this event is one of its signs about a child,
    and enough distinct signs about that child fall in the window ending with it."""
    assert rule.cumulative is not None
    cumulative = rule.cumulative
    here = cumulative.matched(event)
    if not here:
        return None
    start = event.occurred_at - timedelta(days=cumulative.within_days)
    window = [e for e in history() if start <= e.occurred_at <= event.occurred_at]
    words = {sign.id: sign.words for sign in cumulative.signs}
    # Each event's signs worked out once, whichever child they are then counted for.
    shown = [(event, here)] + [
        (e, cumulative.matched(e)) for e in window if e.event_id != event.event_id
    ]
    for child in sorted({s.person_id for group in here.values() for s in group if s.person_id}):
        seen: dict[str, dict[str, None]] = {}  # sign -> the events that showed it
        for other, signs in shown:
            for sign, children in signs.items():
                if any(c.person_id == child for c in children):
                    seen.setdefault(sign, {})[str(other.event_id)] = None
        if len(seen) >= cumulative.at_least:
            evidence = dict.fromkeys(e for ids in seen.values() for e in ids)
            return RuleHit(rule.id, tuple(evidence), tuple(words[s] for s in seen))
    return None


def _episodes(
    rule: HarmRule, person_id: str | None, event: CanonicalEvent, earlier: Sequence[CanonicalEvent]
) -> list[str]:
    """This person's matches of a repeated rule in its window ending with ``event``."""
    assert rule.repeated is not None and rule.when is not None
    start = event.occurred_at - timedelta(days=rule.repeated.within_days)
    found = {str(event.event_id)}
    for other in earlier:
        if start <= other.occurred_at <= event.occurred_at and any(
            s.person_id == person_id for s in rule.when.subjects(other)
        ):
            found.add(str(other.event_id))
    return sorted(found)


def override_id(event_id: UUID | str) -> str:
    """An override is the MASH's decision on one event."""
    return f"{event_id}:{Recipient.MASH.value}"


def family_of(event: CanonicalEvent) -> str:
    """The family an event belongs to: the linker's partition key, so views stay in order."""
    return family_key(event)


def decide(
    event: CanonicalEvent,
    consents: Iterable[ConsentRecord],
    policy: Policy,
    hits: Sequence[RuleHit],
    now: datetime,
) -> list[Decision]:
    """Decide every possible recipient of one linked event (the source agency excepted)."""
    consents = list(consents)
    return [
        decide_for(event, recipient, consents, policy, hits, now)
        for recipient in Recipient
        if recipient.value != event.source.agency.value
    ]


def decision_id(event_id: UUID | str, addressee: Addressee) -> str:
    """One event, one addressee: ``<event id>:school:103291``, ``<event id>:mash``."""
    return f"{event_id}:{addressee}"


def decide_for(
    event: CanonicalEvent,
    recipient: Recipient,
    consents: Sequence[ConsentRecord],
    policy: Policy,
    hits: Sequence[RuleHit],
    now: datetime,
    organisation: str | None = None,
    served: frozenset[str] | None = None,
) -> Decision:
    """Decide one recipient of one event: as ``organisation`` of it, where it is many.

    ``served``: the people that organisation serves (its pupils, patients, tenants); the
    others in the event are not its business and are not considered at all. ``served``
    without an organisation: the people none of the kind's organisations serves, for
    whom only a statutory notification stands (see ``statutory_only``)."""
    if served is not None and organisation is None:
        # Nobody here has an organisation of the kind to have consented to: only what is
        # statutory can stand (and a consent naming the kind must not displace it).
        return statutory_only(
            _decide_for(event, recipient, (), policy, hits, now, organisation, served)
        )
    return _decide_for(event, recipient, consents, policy, hits, now, organisation, served)


def statutory_only(decision: Decision) -> Decision:
    """A kind's decision about people none of its organisations serves: a statutory
    notification stands (the local authority routes it); nothing else has anyone to go to."""
    if decision.outcome in (Outcome.NOTIFY, Outcome.DENY):
        return decision
    return decision.model_copy(
        update={
            "outcome": Outcome.DENY,
            "shared": (),
            "consent_ids": (),
            "rule": None,
            "lawful_basis": None,
            "details": False,
            "view": None,
            "reason": f"no {decision.recipient.label} on record serves them yet",
        }
    )


def _decide_for(
    event: CanonicalEvent,
    recipient: Recipient,
    consents: Sequence[ConsentRecord],
    policy: Policy,
    hits: Sequence[RuleHit],
    now: datetime,
    organisation: str | None,
    served: frozenset[str] | None,
) -> Decision:
    base = {
        "decision_id": decision_id(event.event_id, Addressee(recipient, organisation)),
        "event_id": event.event_id,
        "family_id": family_of(event),
        "source_agency": event.source.agency.value,
        "recipient": recipient,
        "organisation": organisation,
        "decided_at": now,
    }
    subjects = [s for s in event.subjects if served is None or _pid(s) in served]
    everyone = tuple(_pid(s) for s in subjects)
    if recipient is Recipient.MASH and hits:
        return Decision(
            **base,
            outcome=Outcome.OVERRIDE,
            shared=everyone,
            rule=",".join(dict.fromkeys(hit.rule for hit in hits)),
            lawful_basis=policy.lawful_basis("significant_harm"),
            evidence_event_ids=tuple(dict.fromkeys(e for hit in hits for e in hit.evidence)),
            signs=tuple(dict.fromkeys(sign for hit in hits for sign in hit.signs)),
            details=True,
            view=recipient.value,
            reason=(
                "significant harm: "
                if any(str(event.event_id) in hit.evidence for hit in hits)
                else "significant harm in the family: "
            )
            + ", ".join(dict.fromkeys(hit.rule for hit in hits)),
            review_due=now + timedelta(hours=policy.override_review_hours),
        )
    allowed: dict[str, str] = {}
    withheld: list[Withheld] = []
    for subject in subjects:
        granted, why = consent_for(subject, recipient, event, consents, policy, now, organisation)
        if granted is not None:
            allowed[_pid(subject)] = str(granted.consent_id)
        else:
            withheld.append(Withheld(person_id=_pid(subject), reason=why))
    statutory = _statutory(event, recipient, subjects, policy)
    if allowed:
        return Decision(
            **base,
            outcome=Outcome.ALLOW,
            shared=tuple(allowed),
            withheld=tuple(withheld),
            consent_ids=tuple(dict.fromkeys(allowed.values())),
            details=not withheld,
            view=recipient.value,
            notified=statutory[1] if statutory else (),
            reason="consent" if not withheld else "consent for some of the people in it",
        )
    if statutory is not None:
        notification, named = statutory
        return Decision(
            **base,
            outcome=Outcome.NOTIFY,
            shared=named,
            withheld=tuple(w for w in withheld if w.person_id not in named),
            rule=notification.id,
            lawful_basis=policy.lawful_basis(notification.basis),
            evidence_event_ids=(str(event.event_id),),
            view=notification.view,
            notified=named,
            reason=f"statutory notification: {notification.id}",
        )
    indicators = policy.indicators
    if (
        indicators.enabled
        and recipient is indicators.recipient
        and set(event.categories) & set(indicators.categories)
    ):
        return Decision(
            **base,
            outcome=Outcome.INDICATOR,
            shared=everyone,
            withheld=tuple(withheld),
            rule="indicators",
            lawful_basis=policy.lawful_basis(indicators.basis),
            view=None,
            reason="indicators only: category, date and agency; details need consent",
        )
    return Decision(
        **base,
        outcome=Outcome.DENY,
        withheld=tuple(withheld),
        reason="; ".join(dict.fromkeys(w.reason for w in withheld)) or "no basis to share",
    )


def _statutory(
    event: CanonicalEvent, recipient: Recipient, subjects: Sequence[Subject], policy: Policy
) -> tuple[Notification, tuple[str, ...]] | None:
    """The statutory notification ``recipient`` is owed about this event, and the people
    it names (of ``subjects``); None if there is none."""
    for notification in policy.notifications:
        if notification.recipient is not recipient or not notification.when.subjects(event):
            continue
        named = tuple(_pid(s) for s in subjects if s.role in notification.subjects)
        if named:
            return notification, named
    return None


def consent_for(
    subject: Subject,
    recipient: Recipient,
    event: CanonicalEvent,
    consents: Sequence[ConsentRecord],
    policy: Policy,
    now: datetime,
    organisation: str | None = None,
) -> tuple[ConsentRecord | None, str]:
    """The consent that lets ``recipient`` hear about ``subject`` in ``event``, or why none does."""
    about = [c for c in consents if _covers_person(c, subject, event)]
    if not about:
        return None, "no consent recorded for this person"
    purposes = policy.recipients[recipient].purposes
    refusals = [
        c
        for c in about
        if c.state is ConsentState.REFUSED
        and c.names(recipient, organisation)
        and c.valid_from <= now
        and (c.valid_until is None or now < c.valid_until)
    ]
    grants = [
        c
        for c in about
        if c.in_force(now)
        and c.names(recipient, organisation)
        and event.categories
        and set(event.categories) <= set(c.categories)
        and c.purpose in purposes
    ]
    # A young person's own refusal stands whatever a parent agreed for the family.
    own_refusals = [r for r in refusals if r.giver is Giver.YOUNG_PERSON]
    if own_refusals:
        return None, f"the young person refused consent (record {own_refusals[-1].consent_id})"
    if grants:
        latest_grant = max(grants, key=lambda c: c.recorded_at)
        if not refusals or latest_grant.recorded_at > max(r.recorded_at for r in refusals):
            return latest_grant, ""
    if refusals:
        latest = max(refusals, key=lambda c: c.recorded_at)
        return None, f"consent refused (record {latest.consent_id})"
    latest = max(about, key=lambda c: c.recorded_at)
    return None, _why_not(latest, recipient, organisation, event, purposes, now)


def _why_not(
    consent: ConsentRecord,
    recipient: Recipient,
    organisation: str | None,
    event: CanonicalEvent,
    purposes: tuple[object, ...],
    now: datetime,
) -> str:
    record = f"(record {consent.consent_id})"
    if consent.state is ConsentState.WITHDRAWN:
        return f"consent withdrawn {record}"
    if consent.valid_from > now:
        return f"consent not yet valid {record}"
    if consent.valid_until is not None and now >= consent.valid_until:
        return f"consent expired {record}"
    if recipient not in consent.recipients:
        return f"consent does not name {recipient.value} {record}"
    if not consent.names(recipient, organisation):
        named = ", ".join(consent.organisations)
        return f"consent names {named}, not {Addressee(recipient, organisation)} {record}"
    missing = [c.value for c in event.categories if c not in consent.categories]
    if missing or not event.categories:
        what = ", ".join(missing) or "an uncategorised event"
        return f"consent does not cover {what} {record}"
    if consent.purpose not in purposes:
        return f"consent's purpose {consent.purpose.value} is not {recipient.value}'s {record}"
    return f"consent does not apply {record}"  # pragma: no cover - every case is named above


def _covers_person(consent: ConsentRecord, subject: Subject, event: CanonicalEvent) -> bool:
    """Whether the consent is about this person (their own, or their family's as a child)."""
    if consent.subject_kind is SubjectKind.PERSON:
        return consent.subject_id == subject.person_id
    if consent.subject_id != subject.family_id:
        return False
    # A parent's or carer's consent for the family covers its children and the giver;
    # another adult in the family (a partner, a suspect) needs their own.
    return is_child(subject, event.occurred_at) or (
        consent.given_by is not None and consent.given_by == subject.person_id
    )


def _pid(subject: Subject) -> str:
    return subject.person_id or "unlinked"
