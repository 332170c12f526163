"""The consent engine on in-memory ports, and the Khan examples linked."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import create_engine

from ehx.consent import (
    ConsentRecord,
    ConsentRegistry,
    ConsentState,
    Giver,
    Purpose,
    SubjectKind,
    load_policy,
    parse_policy,
)
from ehx.consent.engine import ConsentEngine, Outbox
from ehx.consent.memory import MemoryKeyVault, MemoryLedger
from ehx.database import migrate
from ehx.linker.service import Linker
from ehx.linker.store import LinkStore
from ehx.schemas import Agency, CanonicalEvent, Category, Role
from ehx.schemas.vocabulary import Recipient
from tests.records import NOW, events

KHAN_FILES = (
    (Agency.POLICE, "police.jsonl"),
    (Agency.HEALTH, "health-amina-ed.json"),
    (Agency.HEALTH, "health-maryam-not-brought.json"),
    (Agency.SCHOOLS, "schools.csv"),
    (Agency.HOUSING, "housing.jsonl"),
)


#: Who sent each example, as ingest settles it from the directory (the health examples
#: name no trust; the police and housing examples no force or landlord).
SENDERS = {
    "health-amina-ed.json": "RQ3",  # Amina's emergency department
    "health-maryam-not-brought.json": "RRK",  # Maryam's paediatric clinic
    "housing.jsonl": "BCC",
    "police.jsonl": "WMP",
}


def linked_khans() -> list[CanonicalEvent]:
    """The shared examples, linked: four Khans in one family, each record's sender named."""
    engine = create_engine("sqlite://")
    migrate(engine)
    linker = Linker.open(LinkStore(engine))
    return [
        linker.link(sent_by(e, SENDERS[n]) if n in SENDERS else e)[0]
        for a, n in KHAN_FILES
        for e in events(a, n)
    ]


def sent_by(event: CanonicalEvent, code: str) -> CanonicalEvent:
    """The event as organisation ``code`` of its agency sent it."""
    return event.model_copy(
        update={"source": event.source.model_copy(update={"organisation": code})}
    )


def memory_engine(
    policy_text: str | None = None,
) -> tuple[ConsentEngine, MemoryLedger, MemoryKeyVault]:

    policy = parse_policy(policy_text) if policy_text else load_policy()
    ledger, vault = MemoryLedger(), MemoryKeyVault()
    return ConsentEngine(policy, vault, ConsentRegistry(), ledger), ledger, vault


KHANS = linked_khans()


INCIDENT = next(e for e in KHANS if e.payload.kind == "police.incident" and len(e.subjects) == 4)


FAMILY = INCIDENT.subjects[0].family_id or ""


AMINA = next(s.person_id for s in INCIDENT.subjects if s.role is Role.VICTIM) or ""


def family_consent(
    recipients: tuple[Recipient, ...],
    family: str = FAMILY,
    mother: str = AMINA,
    at: datetime = NOW,
) -> ConsentRecord:
    """The mother's consent, from yesterday, for the family's information to reach these."""
    return ConsentRecord(
        state=ConsentState.GRANTED,
        subject_kind=SubjectKind.FAMILY,
        subject_id=family,
        given_by=mother,
        giver=Giver.PARENT,
        recorded_by="ew-0042",
        recorded_by_agency=Recipient.EARLY_HELP,
        recipients=recipients,
        categories=tuple(Category),
        purpose=Purpose.EARLY_HELP_ASSESSMENT,
        valid_from=at - timedelta(days=1),
        recorded_at=at,
    )


def khans_consented_then_withdrawn() -> list[Outbox]:
    """The Khans decided with no consent, then with the mother's, then after she withdraws."""
    consent, ledger, _ = memory_engine()
    events = linked_khans()
    first = consent.on_events(events, NOW)
    ledger.save(first)
    mother = next(s for e in events for s in e.subjects if s.role.value == "victim")
    assert mother.family_id is not None and mother.person_id is not None
    grant = ConsentRecord(
        state=ConsentState.GRANTED,
        subject_kind=SubjectKind.FAMILY,
        subject_id=mother.family_id,
        given_by=mother.person_id,
        giver=Giver.PARENT,
        recorded_by="ew-1",
        recorded_by_agency=Recipient.EARLY_HELP,
        recipients=(Recipient.EARLY_HELP, Recipient.SCHOOLS, Recipient.HEALTH),
        categories=tuple(Category),
        purpose=Purpose.EARLY_HELP_ASSESSMENT,
        valid_from=NOW,
        recorded_at=NOW,
    )
    later = NOW + timedelta(hours=1)
    granted = consent.on_record(grant, later)
    ledger.save(granted)
    withdrawn = consent.on_record(grant.withdraw("ew-1", later), later + timedelta(hours=1))
    return [first, granted, withdrawn]


def variant(
    event: CanonicalEvent, subject_changes: dict[int, dict[str, Any]] | None = None, **payload: Any
) -> CanonicalEvent:
    subjects = list(event.subjects)
    for index, changes in (subject_changes or {}).items():
        demo = subjects[index].demographics.model_copy(update=changes.pop("demographics", {}))
        subjects[index] = subjects[index].model_copy(update={**changes, "demographics": demo})
    from uuid import uuid4

    return event.model_copy(
        update={
            "event_id": uuid4(),
            "payload": event.payload.model_copy(update=payload),
            "subjects": tuple(subjects),
        }
    )


def knife_found_on_child() -> CanonicalEvent:
    """Corey: a six-year-old seen with a knife in the park, reported by a member of the public."""
    asb = next(e for e in KHANS if e.payload.kind == "police.incident" and len(e.subjects) == 1)
    return variant(asb, incident_type="weapon", weapon_involved=True)


def missing(days_before: int) -> CanonicalEvent:
    episode = variant(
        knife_found_on_child(),
        {0: {"role": Role.MISSING_PERSON}},
        incident_type="missing_person",
        weapon_involved=False,
    )
    return episode.model_copy(
        update={"occurred_at": INCIDENT.occurred_at - timedelta(days=days_before)}
    )
