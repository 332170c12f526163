"""What goes on ``ehx.share.<recipient>``: a recipient's view of one event, or its retraction.

A view carries ids, the event's type, date, agency and categories in the clear (what a
timeline and Think Family need), and everything else sealed: each person's demographics
under that recipient's key for that person, the event's details under a content key
wrapped for every person the view is about. Destroying a key (withdrawal, expiry)
makes what it sealed unreadable wherever copies of the view went.
"""

from __future__ import annotations

from typing import Any, Literal
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field


class _View(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


class SealedBox(_View):
    """AES-GCM ciphertext; its content key wrapped once per data key that may open it."""

    key_ids: tuple[str, ...]
    wrapped_keys: tuple[str, ...]
    nonce: str
    ciphertext: str


class ViewSubject(_View):
    """One person the view is about: pseudonymous ids in the clear, the rest sealed."""

    person_id: str
    role: str
    demographics: SealedBox | None = None
    #: A restricted record: this person's address was never put in the view.
    address_withheld: bool = False


class Basis(_View):
    """Why this recipient may see it: consent records, or a rule and its lawful basis."""

    outcome: Literal["allow", "override", "notify", "indicator"]
    consent_ids: tuple[str, ...] = ()
    rule: str | None = None
    lawful_basis: str | None = None
    #: The people a statutory notification (Operation Encompass) names, whatever the
    #: outcome: a consent that shares more does not take the notification away.
    notified: tuple[str, ...] = ()
    #: Where a cumulative-risk rule fired: the signs that added up, in plain words.
    signs: tuple[str, ...] = ()


class ShareView(_View):
    """One recipient's view of one event."""

    kind: Literal["share"] = "share"
    event_id: UUID
    decision_id: str
    revision: int = 1
    #: The addressee: ``mash``, ``police``, or one organisation (``school:103291``).
    recipient: str
    family_id: str
    source_agency: str
    #: The organisation that sent the record (a trust's ODS code, a school's URN), where
    #: it is known: who an access notification about it tells.
    source_organisation: str | None = None
    record_ref: str
    record_version: int
    event_type: str
    occurred_at: AwareDatetime
    categories: tuple[str, ...]
    basis: Basis
    subjects: tuple[ViewSubject, ...]
    #: Fields of the event the recipient's policy view shows that are not free text,
    #: plain: only in views written before they were sealed (``facts``); kept readable.
    fields: dict[str, Any] = Field(default_factory=dict)
    #: Fields of the event the view shows that are not free text, sealed like the rest:
    #: a destroyed key (consent withdrawn, retention over, erasure) shreds them too.
    facts: SealedBox | None = None
    #: Free-text fields (narratives, reasons), sealed; absent if not to be shown.
    details: SealedBox | None = None
    contact: str | None = None
    #: For a statutory notification: each child's school (URN) on the schools' rolls,
    #: so the right key adult is told; a child missing here is on no roll we know.
    school_roll: dict[str, str] = Field(default_factory=dict)
    #: Someone in the event is restricted: no address of theirs, nor the event's own
    #: address fields, is in this view.
    address_withheld: bool = False
    shared_at: AwareDatetime


class Retraction(_View):
    """The recipient may no longer see this event: drop it from their timeline."""

    kind: Literal["retraction"] = "retraction"
    event_id: UUID
    decision_id: str
    revision: int
    recipient: str
    family_id: str
    reason: str
    retracted_at: AwareDatetime


ShareMessage = ShareView | Retraction
