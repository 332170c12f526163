"""What goes on ``ehx.audit``: who did or saw what, about whom, on what basis. Ids only.

The audit ledger (a later stage) chains these; every stage that reveals information to
a person publishes one before it reveals it.
"""

from __future__ import annotations

from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from schemas.envelope import new_event_id


class AuditRecord(BaseModel):
    """One auditable act: names and narratives stay out; it holds ids."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    audit_id: UUID = Field(default_factory=new_event_id)
    #: What was done: ``timeline.read``, ``alert.read``, ``alert.decided``, ...
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
