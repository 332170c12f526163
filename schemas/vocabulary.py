"""The closed vocabularies every folder speaks: agencies, event types, categories, roles."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Agency(StrEnum):
    """An agency that sends records into the exchange."""

    POLICE = "police"
    HEALTH = "health"
    SCHOOLS = "schools"
    HOUSING = "housing"


class Recipient(StrEnum):
    """Who may receive a view of an event: the MASH, the early help hub, and each agency."""

    MASH = "mash"
    EARLY_HELP = "early_help"
    POLICE = "police"
    HEALTH = "health"
    SCHOOLS = "schools"
    HOUSING = "housing"

    @property
    def label(self) -> str:
        """The recipient in plain words, as a sentence names it ("As the MASH may see it")."""
        return _RECIPIENT_LABELS[self]


_RECIPIENT_LABELS = {
    Recipient.MASH: "the MASH",
    Recipient.EARLY_HELP: "the early help hub",
    Recipient.POLICE: "the police",
    Recipient.HEALTH: "health",
    Recipient.SCHOOLS: "schools",
    Recipient.HOUSING: "housing",
}


#: Recipients that are many organisations of one kind (400 schools, several trusts,
#: dozens of landlords): each organisation hears only about the people it serves.
SERVING_KINDS = frozenset({Recipient.SCHOOLS, Recipient.HEALTH, Recipient.HOUSING})

#: How the organisations directory names a serving kind's organisations.
_REF_KINDS = {Recipient.SCHOOLS: "school", Recipient.HEALTH: "health", Recipient.HOUSING: "housing"}
_BY_REF_KIND = {kind: recipient for recipient, kind in _REF_KINDS.items()}


@dataclass(frozen=True, order=True)
class Addressee:
    """Who receives a view: a recipient, and for schools, trusts and landlords which one.

    Written as the organisations directory names it: ``school:103291``, ``health:RQ3``,
    ``housing:BCC``; the hubs and the police are one organisation each (``mash``). A
    serving kind without a code (``schools``) receives only what is statutory about
    people no organisation of it is known to serve yet (an Operation Encompass
    notification for a child on no school roll we hold: the local authority's to work).
    """

    recipient: Recipient
    code: str | None = None

    def __str__(self) -> str:
        if self.code is None:
            return self.recipient.value
        return f"{_REF_KINDS[self.recipient]}:{self.code}"

    @classmethod
    def parse(cls, text: str) -> Addressee:
        """``school:103291`` or ``mash`` (``schools:103291`` too); ValueError otherwise."""
        kind, sep, code = text.partition(":")
        if not sep:
            return cls(Recipient(kind))
        recipient = _BY_REF_KIND.get(kind) or _BY_REF_KIND.get(kind.removesuffix("s"))
        if recipient is None or not code:
            raise ValueError(
                f"{text[:40]!r}: an organisation is school:URN, health:ODS or housing:CODE"
            )
        return cls(recipient, code)

    @classmethod
    def sender(cls, agency: str, organisation: str | None) -> Addressee:
        """The organisation that sent a record, as a view addresses it: a school, trust or
        landlord by its code (``health:RQ3``); the police as the police; a record whose
        sender is not known, its agency's kind."""
        recipient = Recipient(agency)
        return cls(recipient, organisation if recipient in SERVING_KINDS else None)

    @property
    def label(self) -> str:
        """In plain words: "school 103291", "the MASH"."""
        if self.code is None:
            return self.recipient.label
        return f"{_REF_KINDS[self.recipient]} {self.code}"


def organisations_prefix(recipient: Recipient) -> str | None:
    """How each organisation of a serving kind begins when written (``school:``)."""
    kind = _REF_KINDS.get(recipient)
    return f"{kind}:" if kind else None


def covers(recipient: str, holder: str) -> bool:
    """Whether ``holder`` (``school:103291``) is ``recipient`` or, where ``recipient``
    names a kind (``schools``), one of its organisations."""
    kind = Recipient.__members__.get(recipient.upper())
    return holder == recipient or (kind is not None and holds_for(holder, kind))


def holds_for(text: str, recipient: Recipient) -> bool:
    """Whether ``text`` (an addressee as written on a view or key) is ``recipient`` or
    one of its organisations."""
    prefix = organisations_prefix(recipient)
    return text == recipient.value or (prefix is not None and text.startswith(prefix))


#: Roles of people named in a record who are not of the family it is about: they are
#: linked as people, but join no family through it.
OUTSIDE_ROLES = frozenset({"witness", "reporting_person"})


class EventType(StrEnum):
    """What happened, one value per canonical payload."""

    POLICE_INCIDENT = "police.incident"
    HEALTH_ENCOUNTER = "health.encounter"
    HEALTH_NOT_BROUGHT = "health.not_brought"
    HEALTH_FLAG = "health.flag"
    SCHOOL_ATTENDANCE = "schools.attendance_summary"
    SCHOOL_EXCLUSION = "schools.exclusion"
    SCHOOL_CONCERN = "schools.safeguarding_concern"
    SCHOOL_MISSING_EDUCATION = "schools.missing_education"
    HOUSING_EVENT = "housing.event"

    @property
    def label(self) -> str:
        """What happened, in plain words, as a timeline shows it."""
        return _EVENT_TYPE_LABELS[self]


_EVENT_TYPE_LABELS = {
    EventType.POLICE_INCIDENT: "Police incident",
    EventType.HEALTH_ENCOUNTER: "Health encounter",
    EventType.HEALTH_NOT_BROUGHT: "Not brought to an appointment",
    EventType.HEALTH_FLAG: "Health flag",
    EventType.SCHOOL_ATTENDANCE: "School attendance",
    EventType.SCHOOL_EXCLUSION: "School exclusion",
    EventType.SCHOOL_CONCERN: "School safeguarding concern",
    EventType.SCHOOL_MISSING_EDUCATION: "Child missing education",
    EventType.HOUSING_EVENT: "Housing",
}


class Category(StrEnum):
    """Categories of information, used by consent scopes and by Think Family.

    The first six are the Think Family problems of the Early Help strategy; the
    rest let consent scopes be narrower than a whole problem area.
    """

    CRIME_ASB = "crime_antisocial_behaviour"
    SCHOOL_ATTENDANCE = "poor_school_attendance"
    CHILD_IN_NEED_OR_PROTECTION = "child_in_need_or_protection"
    FINANCIAL_EXCLUSION = "worklessness_financial_exclusion"
    DOMESTIC_ABUSE = "domestic_violence_abuse"
    HEALTH = "health_problems"
    HOUSING = "housing"
    SCHOOL_BEHAVIOUR = "school_behaviour"
    SAFEGUARDING_CONCERN = "safeguarding_concern"
    MISSING = "missing"
    EXPLOITATION = "exploitation"


THINK_FAMILY_PROBLEMS: frozenset[Category] = frozenset(
    {
        Category.CRIME_ASB,
        Category.SCHOOL_ATTENDANCE,
        Category.CHILD_IN_NEED_OR_PROTECTION,
        Category.FINANCIAL_EXCLUSION,
        Category.DOMESTIC_ABUSE,
        Category.HEALTH,
    }
)


class Sensitivity(StrEnum):
    """How carefully an event must be handled; special category is UK GDPR art. 9 data."""

    STANDARD = "standard"
    SENSITIVE = "sensitive"
    SPECIAL_CATEGORY = "special_category"


class Restriction(StrEnum):
    """A person whose whereabouts must not leave the agency that holds them.

    The NHS Personal Demographics Service marks such a patient with the confidentiality
    code R (restricted: typically someone who has fled abuse) or V (very restricted).
    Their address and contact details never reach any recipient, under any basis.
    """

    RESTRICTED = "restricted"
    VERY_RESTRICTED = "very_restricted"


#: What every view says in place of a restricted person's address.
WITHHELD = "restricted record"


class Role(StrEnum):
    """A person's part in an event, in the words of the agency that sent it."""

    VICTIM = "victim"
    SUSPECT = "suspect"
    WITNESS = "witness"
    CHILD_PRESENT = "child_present"
    MISSING_PERSON = "missing_person"
    SUBJECT = "subject"
    REPORTING_PERSON = "reporting_person"
    PATIENT = "patient"
    RELATED_PERSON = "related_person"
    PUPIL = "pupil"
    LEAD_TENANT = "lead_tenant"
    PARTNER = "partner"
    CHILD = "child"
    OTHER_ADULT = "other_adult"
