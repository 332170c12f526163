"""Who may record and withdraw consent (pure).

Consent is recorded by a practitioner of an organisation working with the family (one
that has sent the exchange a record about it: a school, not every school), or by the MASH
or the early help hub, who record consent with families as their work. It names who gave
it, a person of that family, and where it is written down. It is withdrawn by the
organisation that recorded it, the MASH, or the data protection officer.

And it is given by someone who can give it (``giving_refusal``): a parent or carer for
the children they hold parental responsibility for on the records (a household record's
children of its lead tenant and partner; a health record's patient, of a related person
named as mother, father, parent, guardian or carer), and for themselves, never for
another adult; a young person for their own information from the policy's minimum age
(12), with the practitioner's assessment of their competence recorded; an adult for
themselves.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime

from ehx.consent.records import ConsentRecord, ConsentState, Giver, SubjectKind
from ehx.schemas import Agency, CanonicalEvent, Subject
from ehx.schemas.vocabulary import Recipient, Role

#: Who record consent with any family, and see every consent about a subject.
CONSENT_KEEPERS = frozenset({Recipient.MASH, Recipient.EARLY_HELP})
#: Recipients that are many organisations: each records and withdraws as one of them.
SERVING = frozenset({Recipient.SCHOOLS, Recipient.HEALTH, Recipient.HOUSING})
DPO = "data_protection_officer"


@dataclass(frozen=True)
class OnFile:
    """What the exchange holds about a consent's subject: the people in the events about
    it, and the agencies that sent those events."""

    people: frozenset[str]
    agencies: frozenset[str]
    #: ``kind:code`` of each organisation that sent one (``schools:103512``).
    organisations: frozenset[str] = frozenset()
    #: Each person's date of birth, where a record gives it.
    born: dict[str, date] = field(default_factory=dict)
    #: Each child's parents and carers, as the records name them.
    parents: dict[str, frozenset[str]] = field(default_factory=dict)


#: A health record's related person who holds parental responsibility, by its words.
PARENTAL_WORDS = ("mother", "father", "parent", "guardian", "carer")
#: A household record's members who are its children's parents or carers.
HOUSEHOLD_ADULTS = frozenset({Role.LEAD_TENANT, Role.PARTNER})
ADULT_AGE = 18


def on_file(events: Iterable[CanonicalEvent]) -> OnFile:
    """What the exchange holds about a subject, from the events about it."""
    people: set[str] = set()
    agencies: set[str] = set()
    organisations: set[str] = set()
    born: dict[str, date] = {}
    parents: dict[str, set[str]] = defaultdict(set)
    for event in events:
        agencies.add(event.source.agency.value)
        if event.source.organisation:
            organisations.add(f"{event.source.agency.value}:{event.source.organisation}")
        for subject in event.subjects:
            if subject.person_id is None:
                continue
            people.add(subject.person_id)
            if subject.demographics.date_of_birth is not None:
                born.setdefault(subject.person_id, subject.demographics.date_of_birth)
        for child, adult in _parental(event):
            if child.person_id and adult.person_id:
                parents[child.person_id].add(adult.person_id)
    return OnFile(
        people=frozenset(people),
        agencies=frozenset(agencies),
        organisations=frozenset(organisations),
        born=born,
        parents={c: frozenset(a) for c, a in parents.items()},
    )


def _parental(event: CanonicalEvent) -> list[tuple[Subject, Subject]]:
    """(child, parent or carer) pairs a record states."""
    if event.source.agency is Agency.HOUSING:
        adults = [s for s in event.subjects if s.role in HOUSEHOLD_ADULTS]
        return [(c, a) for c in event.subjects if c.role is Role.CHILD for a in adults]
    if event.source.agency is Agency.HEALTH:
        carers = [
            s
            for s in event.subjects
            if s.role is Role.RELATED_PERSON
            and any(w in (s.relationship or "").lower() for w in PARENTAL_WORDS)
        ]
        return [(p, c) for p in event.subjects if p.role is Role.PATIENT for c in carers]
    return []


def age(born: date | None, now: datetime) -> int | None:
    if born is None:
        return None
    day = now.date()
    return day.year - born.year - ((day.month, day.day) < (born.month, born.day))


def giving_refusal(
    record: ConsentRecord, on_file: OnFile, now: datetime, min_age: int
) -> str | None:
    """Why the person recorded as giving ``record`` cannot give it, saying who can; or None."""
    giver, subject = record.given_by, record.subject_id
    if giver is None:
        return "given_by: name who gave it (their person id in the exchange)"
    if record.giver is Giver.YOUNG_PERSON:
        years = age(on_file.born.get(subject), now)
        if years is None:
            return (
                f"no date of birth on record for {subject}: a young person consents for "
                "themselves only when the records show their age"
            )
        if years < min_age:
            return (
                f"a young person consents for their own information from {min_age}: "
                f"{subject} is {years}; a parent or carer consents for them"
            )
        if not record.competence.strip():
            return (
                "competence: record where the practitioner assessed the young person's "
                "competence to consent (a form or case note reference)"
            )
        return None
    if record.giver is Giver.ADULT:
        years = age(on_file.born.get(subject), now)
        if years is not None and years < ADULT_AGE:
            return f"{subject} is {years}: a young person or a parent or carer consents"
        return None
    # A parent or carer: for the children they hold parental responsibility for, and
    # for themselves.
    children = {c for c, adults in on_file.parents.items() if giver in adults}
    if record.subject_kind is SubjectKind.FAMILY:
        if children:
            return None
        return (
            f"{giver} is not on record as a parent or carer of a child in this family: "
            "a parent or carer consents for the children they have parental "
            "responsibility for (a household record's children, a health record's "
            "related person)"
        )
    if subject == giver or subject in children:
        return None
    return (
        f"{giver} is not on record as {subject}'s parent or carer: a parent or carer "
        "consents for the children they have parental responsibility for, and for "
        "themselves, never for another adult"
    )


def recording_refusal(
    record: ConsentRecord,
    caller: Recipient,
    on_file: OnFile,
    organisation: str | None,
    now: datetime,
    min_age: int = 12,
) -> str | None:
    """Why ``caller`` (of ``organisation``) may not record ``record``, in words that say
    who may; or None. ``min_age``: the policy's for a young person's own consent."""
    kind = record.subject_kind.value
    if not on_file.people:
        return f"subject_id: the exchange holds no records about {kind} {record.subject_id}"
    working_with = (
        f"{caller.value}:{organisation}" in on_file.organisations
        if caller in SERVING
        else caller.value in on_file.agencies
    )
    if caller not in CONSENT_KEEPERS and not working_with:
        sender = f"{caller.value} {organisation}" if organisation else caller.label
        return (
            f"{sender} has sent no record about this {kind}: consent is recorded by an "
            "organisation working with the family, the early help hub or the MASH"
        )
    if record.state is ConsentState.GRANTED and not record.evidence.strip():
        return "evidence: say where the consent is written down (a signed form, a case note)"
    if record.given_by is None:
        return "given_by: name who gave it (their person id in the exchange)"
    if record.given_by not in on_file.people:
        return f"given_by: {record.given_by} is not in the records about this {kind}"
    return giving_refusal(record, on_file, now, min_age)


def withdrawal_refusal(
    record: ConsentRecord, caller: Recipient | None, organisation: str | None = None
) -> str | None:
    """Why ``caller`` (of ``organisation``; None for the data protection officer) may not
    withdraw ``record``, saying who may; or None."""
    if caller is None or caller is Recipient.MASH:
        return None
    recorder = record.recorded_by_organisation
    if caller is record.recorded_by_agency and recorder in (None, organisation):
        return None
    who = (
        f"{record.recorded_by_agency.value} {recorder}"
        if recorder
        else (record.recorded_by_agency.label)
    )
    return (
        f"consent is withdrawn by the organisation that recorded it ({who}), the MASH or "
        "the data protection officer"
    )


def review_refusal(reviewer: str, role: str | None, asserters: set[str]) -> str | None:
    """Why ``reviewer`` (in ``role``, None if no such active account) may not countersign
    or reverse an override that ``asserters`` asserted; or None."""
    if role != "mash_manager":
        return (
            f"{reviewer} is not a MASH manager's active account: an override is "
            "countersigned or reversed by a MASH manager (ehx people add NAME --role manager)"
        )
    if reviewer in asserters:
        return f"{reviewer} asserted this harm: another MASH manager countersigns or reverses it"
    return None
