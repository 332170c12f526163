"""What goes on ``ehx.audit``: who did or saw what, about whom, on what basis. Ids only.

The audit ledger (``audit/``) chains these. Every stage publishes one for each act an
auditor must be able to find (``Action`` lists them), but for the consent service's
decisions and deliveries, which the ledger makes from ``ehx.decisions`` itself; a stage
that reveals information to a person publishes its record, and waits for the broker to
have it, before it reveals anything.
"""

from __future__ import annotations

from enum import StrEnum
from uuid import UUID, uuid5

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from ehx.schemas.envelope import new_event_id


class Action(StrEnum):
    """Every act that is recorded."""

    RECORD_ACCEPTED = "record.accepted"
    RECORD_REFUSED = "record.refused"
    #: An event already received, published again (a resend or a replay attack).
    RECORD_REPLAYED = "record.replayed"
    CONSENT_GRANTED = "consent.granted"
    CONSENT_REFUSED = "consent.refused"
    CONSENT_WITHDRAWN = "consent.withdrawn"
    CONSENT_EXPIRED = "consent.expired"
    HARM_ASSERTED = "harm.asserted"
    OVERRIDE_REVIEWED = "override.reviewed"
    DECISION_ALLOW = "decision.allow"
    DECISION_DENY = "decision.deny"
    DECISION_OVERRIDE = "decision.override"
    DECISION_NOTIFY = "decision.notify"
    DECISION_INDICATOR = "decision.indicator"
    DELIVERED = "share.delivered"
    RETRACTED = "share.retracted"
    KEY_DESTROYED = "key.destroyed"
    TIMELINE_READ = "timeline.read"
    ALERTS_READ = "alerts.read"
    ALERT_DECIDED = "alert.decided"
    AUDIT_READ = "audit.read"
    AUDIT_EXPORTED = "audit.exported"
    LINK_REVIEWED = "link.reviewed"
    #: Who a person is across agencies (names, dates of birth, identifiers) read.
    LINKS_READ = "links.read"
    #: Consent records about a person or family read (their evidence included).
    CONSENTS_READ = "consents.read"
    #: What a recipient would see of a family previewed: event types, agencies, dates.
    PREVIEW_READ = "preview.read"
    #: Operation Encompass notifications listed: which children, which schools, when.
    ENCOMPASS_READ = "encompass.read"
    #: A search for a person by name, birth date or NHS number, and whom it showed.
    PEOPLE_SEARCHED = "people.searched"
    #: What the screening team decided about cases an organisation's records were behind.
    OUTCOMES_READ = "outcomes.read"
    #: The families list: which families, and the people the reader's view names in them.
    FAMILIES_READ = "families.read"
    #: A subject access request answered: the DPO read everything held about a person.
    SUBJECT_ACCESS = "rights.access"
    #: The DPO released a subject access package (its SHA-256 in ``bases``).
    SUBJECT_ACCESS_RELEASED = "rights.released"
    #: A practitioner marked an item "withhold: serious harm" for the DPO's decision.
    ITEM_WITHHELD = "rights.withheld"
    #: The DPO marked an item disputed by the data subject.
    ITEM_DISPUTED = "rights.disputed"
    #: A retention sweep removed what expired in one period (its ids, the schedule's line).
    RETENTION_SWEPT = "rights.swept"
    #: A person's information erased (ids only; the removal keeps salted hashes to prove it).
    PERSON_ERASED = "rights.erased"
    #: The proof after a sweep or an erasure: what was checked, what is still readable.
    REMOVAL_PROVED = "rights.proved"
    #: A request refused (401 or 403): who tried what.
    ACCESS_REFUSED = "access.refused"


_NAMESPACE = UUID("6f1d3c2e-8a4b-5e70-9c1d-2b3a4c5d6e7f")


def stable_id(*parts: object) -> UUID:
    """The same act recorded twice (a stage replaying a batch after a crash) gets the same
    id, so the ledger keeps it once. Reads use fresh ids: each look is its own act."""
    return uuid5(_NAMESPACE, "|".join(str(p) for p in parts))


#: A person looked at information (``who-saw``'s "viewed").
READS = frozenset(
    {
        Action.TIMELINE_READ,
        Action.ALERTS_READ,
        Action.LINKS_READ,
        Action.CONSENTS_READ,
        Action.PREVIEW_READ,
        Action.ENCOMPASS_READ,
        Action.PEOPLE_SEARCHED,
        Action.OUTCOMES_READ,
        Action.FAMILIES_READ,
        Action.SUBJECT_ACCESS,
    }
)
#: A recipient was sent information (``who-saw``'s "received").
DELIVERIES = frozenset({Action.DELIVERED})


class AuditRecord(BaseModel):
    """One auditable act: names and narratives stay out; it holds ids."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    audit_id: UUID = Field(default_factory=new_event_id)
    #: What was done: one of ``Action`` (kept a string so older readers accept new acts).
    action: str
    actor: str
    role: str
    #: The recipient view (agency, MASH, early help hub) the actor acted as.
    agency: str
    purpose: str
    family_id: str | None = None
    subject_ids: tuple[str, ...] = ()
    event_ids: tuple[str, ...] = ()
    #: Consent record ids or rule names under which it was seen.
    bases: tuple[str, ...] = ()
    at: AwareDatetime
    trace_id: str | None = None
