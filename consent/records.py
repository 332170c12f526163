"""What goes on ``ehx.consent``: consent records, significant-harm assertions, override reviews.

The topic is compacted and keyed by record id, so it keeps the latest state of each
record: a withdrawal is the same consent id published again with state ``withdrawn``.
Records hold pseudonymous person and family ids and the practitioner's id, never a
name: ``evidence`` is a note about where the consent is written down, not a narrative.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Literal
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from ehx.schemas import Category, new_event_id
from ehx.schemas.vocabulary import SERVING_KINDS, Addressee, Recipient


def scope(names: Iterable[str]) -> tuple[tuple[Recipient, ...], tuple[str, ...]]:
    """Who a consent reaches, from names as a practitioner gives them: a kind (``schools``:
    the child's school, whichever it is when an event is decided; ``health``: any trust
    treating them) or one organisation (``school:103291``: that school only, and only
    while the child is on its roll). ValueError names the one not understood."""
    kinds: dict[Recipient, None] = {}
    named: dict[str, None] = {}
    for name in names:
        addressee = Addressee.parse(name)
        kinds[addressee.recipient] = None
        if addressee.code is not None:
            named[str(addressee)] = None
    return tuple(kinds), tuple(named)


class ConsentState(StrEnum):
    GRANTED = "granted"
    REFUSED = "refused"
    WITHDRAWN = "withdrawn"
    #: Set by the consent service when ``valid_until`` has passed, so expiry is recorded.
    EXPIRED = "expired"


class Giver(StrEnum):
    """Who gave (or refused) consent, in relation to the subject."""

    PARENT = "parent"  # a person with parental responsibility, for the family's children
    CARER = "carer"
    YOUNG_PERSON = "young_person"  # of sufficient understanding, for their own information
    ADULT = "adult"  # an adult, for their own information


class Purpose(StrEnum):
    """What the information may be used for (the Early Help strategy's words)."""

    EARLY_HELP_ASSESSMENT = "early_help_assessment"
    TEAM_AROUND_THE_FAMILY = "team_around_the_family"
    MASH_SCREENING = "mash_screening"
    SCHOOL_SUPPORT = "school_support"
    HEALTH_SUPPORT = "health_support"
    HOUSING_SUPPORT = "housing_support"


class SubjectKind(StrEnum):
    PERSON = "person"
    FAMILY = "family"


class _Record(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ConsentRecord(_Record):
    """A family's or a person's answer to a request to share, with its scope."""

    kind: Literal["consent"] = "consent"
    consent_id: UUID = Field(default_factory=new_event_id)
    state: ConsentState
    subject_kind: SubjectKind
    subject_id: Annotated[str, Field(min_length=1, max_length=64)]
    #: The person id of who gave it, where the linker knows them.
    given_by: Annotated[str, Field(max_length=64)] | None = None
    giver: Giver
    recorded_by: Annotated[str, Field(min_length=1, max_length=64)]  # practitioner id
    recorded_by_agency: Recipient
    #: The recorder's organisation (its code in the directory: a school's URN), where the
    #: agency is many organisations; only that organisation (or the MASH) withdraws it.
    recorded_by_organisation: str | None = None
    #: Who may hear, by kind: ``schools`` is the child's school (whichever school the
    #: child is on the roll of when an event is decided), ``health`` any trust treating
    #: them, ``housing`` their landlord.
    recipients: Annotated[tuple[Recipient, ...], Field(min_length=1)]
    #: Named organisations (``school:103291``): where a kind has any here, the consent
    #: reaches only these of that kind, and still only while they serve the person.
    organisations: tuple[Annotated[str, Field(max_length=48)], ...] = ()
    categories: Annotated[tuple[Category, ...], Field(min_length=1)]
    purpose: Purpose
    valid_from: AwareDatetime
    valid_until: AwareDatetime | None = None
    evidence: Annotated[str, Field(max_length=500)] = ""
    #: A young person's own consent: where the practitioner recorded their assessment of
    #: the young person's competence to give it (a form or case note reference).
    competence: Annotated[str, Field(max_length=200)] = ""
    recorded_at: AwareDatetime
    withdrawn_at: AwareDatetime | None = None
    withdrawn_by: str | None = None
    #: The agency whose practitioner withdrew it (the token's holder over HTTP).
    withdrawn_by_agency: Recipient | None = None
    #: Where the withdrawal was not a practitioner's: the data protection officer's.
    withdrawn_by_role: str | None = None

    @model_validator(mode="after")
    def _coherent(self) -> ConsentRecord:
        if self.giver is Giver.YOUNG_PERSON and self.subject_kind is not SubjectKind.PERSON:
            raise ValueError("a young person consents for their own information: subject a person")
        if self.giver in (Giver.YOUNG_PERSON, Giver.ADULT) and (
            self.given_by is not None and self.given_by != self.subject_id
        ):
            raise ValueError(f"a {self.giver.value} consents only for themselves")
        if self.valid_until is not None and self.valid_until <= self.valid_from:
            raise ValueError("valid_until must be after valid_from")
        if (self.state is ConsentState.WITHDRAWN) != (self.withdrawn_at is not None):
            raise ValueError("withdrawn_at is set exactly when the state is withdrawn")
        for ref in self.organisations:
            named = Addressee.parse(ref)
            if named.recipient not in SERVING_KINDS or named.code is None:
                raise ValueError(f"{ref}: name a school, trust or landlord as KIND:CODE")
            if named.recipient not in self.recipients:
                raise ValueError(f"{ref} is not among the recipients it narrows")
        return self

    def names(self, recipient: Recipient, organisation: str | None = None) -> bool:
        """Whether this consent's scope reaches ``recipient`` (as ``organisation``)."""
        if recipient not in self.recipients:
            return False
        narrowed = [a for a in map(Addressee.parse, self.organisations) if a.recipient is recipient]
        return not narrowed or Addressee(recipient, organisation) in narrowed

    @property
    def record_id(self) -> str:
        return str(self.consent_id)

    def withdraw(
        self, by: str, at: datetime, agency: Recipient | None = None, role: str | None = None
    ) -> ConsentRecord:
        """The same consent, withdrawn: future flows stop and what was shared is shredded.

        ``agency``: whose practitioner ``by`` is, where it is not the recording agency;
        ``role``: where ``by`` is not a practitioner (``data_protection_officer``)."""
        return self.model_copy(
            update={
                "state": ConsentState.WITHDRAWN,
                "withdrawn_at": at,
                "withdrawn_by": by,
                "withdrawn_by_agency": agency,
                "withdrawn_by_role": role,
                "recorded_at": at,
            }
        )

    def expire(self) -> ConsentRecord:
        """The same consent, recorded as expired once ``valid_until`` has passed."""
        return self.model_copy(update={"state": ConsentState.EXPIRED})

    def in_force(self, at: datetime) -> bool:
        """Granted, and ``at`` lies within its validity (a withdrawal ends it)."""
        if self.state is not ConsentState.GRANTED:
            return False
        return self.valid_from <= at and (self.valid_until is None or at < self.valid_until)


class HarmAssertion(_Record):
    """A practitioner's explicit assertion that a child is at risk of significant harm."""

    kind: Literal["harm_assertion"] = "harm_assertion"
    assertion_id: UUID = Field(default_factory=new_event_id)
    person_id: Annotated[str, Field(min_length=1, max_length=64)]
    family_id: Annotated[str, Field(min_length=1, max_length=64)]
    asserted_by: Annotated[str, Field(min_length=1, max_length=64)]
    asserted_by_agency: Recipient
    #: The school, trust or landlord whose practitioner raised it (a URN, an ODS code):
    #: the referrer, told what the MASH decided. None for the police and the hubs.
    asserted_by_organisation: Annotated[str, Field(max_length=16)] | None = None
    reason: Annotated[str, Field(min_length=10, max_length=2_000)]
    asserted_at: AwareDatetime

    @property
    def record_id(self) -> str:
        return str(self.assertion_id)


class ReviewOutcome(StrEnum):
    COUNTERSIGNED = "countersigned"
    REVERSED = "reversed"


class OverrideReview(_Record):
    """A manager's countersignature or reversal of a significant-harm override."""

    kind: Literal["override_review"] = "override_review"
    override_id: Annotated[str, Field(min_length=1, max_length=200)]
    outcome: ReviewOutcome
    reviewed_by: Annotated[str, Field(min_length=1, max_length=64)]
    note: Annotated[str, Field(max_length=2_000)] = ""
    reviewed_at: AwareDatetime

    @property
    def record_id(self) -> str:
        return f"review:{self.override_id}"


ConsentTopicRecord = Annotated[
    ConsentRecord | HarmAssertion | OverrideReview, Field(discriminator="kind")
]
