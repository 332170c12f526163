"""The sharing policy: significant-harm rules, notifications, indicators and views, from YAML.

The policy is a file a safeguarding board reads and changes (``consent/policy.yaml``,
or ``EHX_POLICY_FILE``). It is validated in full at start; a mistake stops start-up
with the file, the line and the reason (``PolicyInvalid``).
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from functools import cached_property
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from ehx.consent.records import Purpose
from ehx.consent.retention import RetentionSchedule
from ehx.schemas import CanonicalEvent, Category, EventType, ExchangeError, Role, Subject
from ehx.schemas.payloads import Payload
from ehx.schemas.vocabulary import Recipient

#: Roles that say a person in an event is a child, whatever their date of birth says.
CHILD_ROLES = frozenset({Role.CHILD_PRESENT, Role.CHILD, Role.PUPIL})


class PolicySettings(BaseSettings):
    """The consent service's settings: where the policy comes from, how often expiry is swept."""

    model_config = SettingsConfigDict(env_prefix="EHX_", frozen=True)

    policy_file: Path | None = None
    expiry_sweep_seconds: float = 60.0


class PolicyInvalid(ExchangeError):
    """The policy file cannot be used; start-up stops."""

    def __init__(self, path: str, line: int | None, reason: str) -> None:
        self.path, self.line, self.reason = path, line, reason
        where = f"{path}, line {line}" if line else path
        super().__init__(f"policy {where}: {reason}")


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class SubjectTest(_Strict):
    """Some person in the event has one of these roles (and is a child, or under an age)."""

    roles: tuple[Role, ...] = ()
    child: bool = False
    under_months: Annotated[int, Field(gt=0)] | None = None


class Condition(_Strict):
    """When a rule applies to one event. Every part given must hold."""

    event_type: EventType | tuple[EventType, ...]
    #: Payload field -> the values that make it apply.
    payload: dict[str, tuple[Any, ...]] = {}
    #: Payload text field -> words; any one, in any case, makes it apply.
    payload_mentions: dict[str, tuple[str, ...]] = {}
    any_subject: SubjectTest | None = None

    @cached_property
    def event_types(self) -> frozenset[EventType]:
        types = self.event_type if isinstance(self.event_type, tuple) else (self.event_type,)
        return frozenset(types)

    def subjects(self, event: CanonicalEvent) -> list[Subject]:
        """The subjects that make the condition hold; empty if it does not hold."""
        if event.event_type not in self.event_types:
            return []
        payload = event.payload
        for name, allowed in self.payload.items():
            if getattr(payload, name, None) not in allowed:
                return []
        for name, words in self.payload_mentions.items():
            text = str(getattr(payload, name, None) or "").casefold()
            if not any(word.casefold() in text for word in words):
                return []
        if self.any_subject is None:
            return list(event.subjects)
        test = self.any_subject
        return [s for s in event.subjects if _passes(test, s, event.occurred_at)]

    @model_validator(mode="after")
    def _fields_exist(self) -> Condition:
        known = _payload_fields(self.event_types)
        for name in (*self.payload, *self.payload_mentions):
            if name not in known:
                raise ValueError(f"no payload field {name!r} in {sorted(self.event_types)}")
        return self


class Repeated(_Strict):
    count: Annotated[int, Field(ge=2)]
    within_days: Annotated[int, Field(ge=1)]


class Sign(_Strict):
    """One sign a cumulative-risk rule adds up: an event of one kind, in plain words."""

    id: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$")]
    words: str
    when: Condition


class Cumulative(_Strict):
    """Signs across agencies that add up to a concern for one child: ``at_least`` of the
    distinct ``signs`` within ``within_days``, for a child of ``ages`` (10 to 17)."""

    signs: Annotated[tuple[Sign, ...], Field(min_length=2)]
    at_least: Annotated[int, Field(ge=2)]
    within_days: Annotated[int, Field(ge=1)]
    ages: tuple[Annotated[int, Field(ge=0, le=17)], Annotated[int, Field(ge=0, le=17)]] = (0, 17)

    @cached_property
    def event_types(self) -> frozenset[EventType]:
        return frozenset(t for sign in self.signs for t in sign.when.event_types)

    def matched(self, event: CanonicalEvent) -> dict[str, list[Subject]]:
        """The signs this event is, with the children of the ages it is a sign about."""
        found: dict[str, list[Subject]] = {}
        if event.event_type not in self.event_types:
            return found
        low, high = self.ages
        of_age = [
            s
            for s in event.subjects
            if (months := _months_old(s, event.occurred_at)) is not None
            and low * 12 <= months < (high + 1) * 12
        ]
        if not of_age:
            return found  # nobody of the ages the signs are about
        aged = {id(s) for s in of_age}
        for sign in self.signs:
            children = [s for s in sign.when.subjects(event) if id(s) in aged]
            if children:
                found[sign.id] = children
        return found


class HarmRule(_Strict):
    """A significant-harm criterion: when it fires, the MASH receives without consent.

    One event (``when``), the same event repeated (``when`` and ``repeated``), or signs
    across agencies adding up for one child (``cumulative``): the safeguarding board
    edits them here."""

    id: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$")]
    description: str
    when: Condition | None = None
    repeated: Repeated | None = None
    cumulative: Cumulative | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> HarmRule:
        if (self.when is None) == (self.cumulative is None):
            raise ValueError(f"{self.id}: give either when (one event) or cumulative (signs)")
        if self.repeated is not None and self.when is None:
            raise ValueError(f"{self.id}: repeated counts a when, not cumulative signs")
        return self

    @cached_property
    def event_types(self) -> frozenset[EventType]:
        """The kinds of event that can fire it."""
        if self.when is not None:
            return self.when.event_types
        assert self.cumulative is not None
        return self.cumulative.event_types

    def subjects(self, event: CanonicalEvent) -> list[Subject]:
        """The subjects this event could fire the rule for (a cheap first test)."""
        if self.when is not None:
            return self.when.subjects(event)
        assert self.cumulative is not None
        found = self.cumulative.matched(event)
        return list({id(s): s for group in found.values() for s in group}.values())


class AssertionRule(_Strict):
    id: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$")]
    description: str


class Notification(_Strict):
    """A statutory notification: a narrow view to one recipient, without consent."""

    id: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$")]
    description: str
    recipient: Recipient
    basis: str
    view: str
    subjects: tuple[Role, ...]
    when: Condition


class Indicators(_Strict):
    enabled: bool
    recipient: Recipient
    basis: str
    categories: tuple[Category, ...]


class RecipientPolicy(_Strict):
    purposes: Annotated[tuple[Purpose, ...], Field(min_length=1)]


class Holiday(_Strict):
    start: date
    end: date
    name: str = ""

    @model_validator(mode="after")
    def _ordered(self) -> Holiday:
        if self.end < self.start:
            raise ValueError("a holiday ends on or after it starts")
        return self


class SchoolCalendar(_Strict):
    """When school days start, and which days are not school days."""

    timezone: str = "Europe/London"
    school_day_starts: time = time(8, 30)
    holidays: tuple[Holiday, ...] = ()
    #: After the deadline passes unacknowledged, how long the deputy has before the
    #: local authority is told.
    local_authority_after: timedelta = Field(default=timedelta(hours=1))

    def is_school_day(self, day: date) -> bool:
        if day.weekday() >= 5:
            return False
        return not any(h.start <= day <= h.end for h in self.holidays)

    def next_school_start(self, after: datetime) -> datetime:
        """The first start of a school day strictly after ``after``."""
        zone = ZoneInfo(self.timezone)
        local = after.astimezone(zone)
        day = local.date()
        for _ in range(400):  # a year and a bit: any calendar has a school day in it
            start = datetime.combine(day, self.school_day_starts, tzinfo=zone)
            if start > local and self.is_school_day(day):
                return start
            day += timedelta(days=1)
        raise ValueError("no school day in the next 400 days: check the holiday calendar")


class ScreeningTimescales(_Strict):
    """How soon the MASH screens an alert, by its RAG rating: red (Complex/Significant)
    the same working day, amber (Additional Needs) within one, green within three.
    A working day ends at ``day_ends`` local time; weekends are not working days."""

    timezone: str = "Europe/London"
    day_ends: time = time(17, 0)
    red: Annotated[int, Field(ge=0)] = 0
    amber: Annotated[int, Field(ge=0)] = 1
    green: Annotated[int, Field(ge=0)] = 3

    def due(self, raised: datetime, working_days: int) -> datetime:
        """The end of the working day ``working_days`` after the one ``raised`` falls in
        (raised after hours or at a weekend: the next working day counts as the first)."""
        zone = ZoneInfo(self.timezone)
        local = raised.astimezone(zone)
        day = local.date()
        if day.weekday() >= 5 or local.time() >= self.day_ends:
            day = _next_working_day(day)
        for _ in range(working_days):
            day = _next_working_day(day)
        return datetime.combine(day, self.day_ends, tzinfo=zone)


def _next_working_day(day: date) -> date:
    day += timedelta(days=1)
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return day


class SubjectAccess(_Strict):
    """What a subject access release shows of other people (UK GDPR Art. 15(4), DPA 2018
    Sch. 2 para 16): third parties (family members, a suspect, a neighbour) and staff
    (an officer's collar number) are redacted unless the board decides otherwise."""

    third_parties: Literal["redact", "release"] = "redact"
    staff: Literal["redact", "release"] = "redact"
    #: A request is answered within a month; the package says by when.
    respond_within_days: Annotated[int, Field(ge=1, le=90)] = 30


class Erasure(_Strict):
    """When ``ehx rights erase`` refuses (UK GDPR Art. 17(3)(b): information needed for a
    legal obligation or a task in the public interest, as safeguarding a child is).

    ehx holds no case closure (the case management system does), so a case decision this
    recent about the family is taken as an open case."""

    #: Screening decisions that open a case (``alerts.store.ScreeningDecision`` values).
    case_decisions: tuple[str, ...] = (
        "s47_enquiry",
        "strategy_discussion",
        "s17_child_in_need_assessment",
        "early_help_team_around_the_family",
    )
    case_open_months: Annotated[int, Field(ge=0, le=600)] = 12


class Policy(_Strict):
    """The whole sharing policy, validated."""

    version: int
    lawful_bases: dict[str, str]
    override_review_hours: Annotated[int, Field(gt=0)]
    #: Significant harm fired for a family: the MASH receives the family's events from
    #: this many months before it, and for as long after (0: the firing event only).
    override_scope_months: Annotated[int, Field(ge=0, le=120)] = 12
    significant_harm: tuple[HarmRule, ...]
    practitioner_assertion: AssertionRule
    notifications: tuple[Notification, ...] = ()
    indicators: Indicators
    recipients: dict[Recipient, RecipientPolicy]
    sealed_fields: frozenset[str]
    views: dict[str, dict[EventType, tuple[str, ...]]]
    contacts: dict[str, str] = {}
    operation_encompass: SchoolCalendar = SchoolCalendar()
    screening: ScreeningTimescales = ScreeningTimescales()
    #: From this age a young person consents for their own information (with the
    #: practitioner's assessment of their competence); below it, a parent or carer does.
    young_person_min_age: Annotated[int, Field(ge=0, le=18)] = 12
    subject_access: SubjectAccess = SubjectAccess()
    #: How long each recipient keeps what it was given (``consent.retention``).
    retention: RetentionSchedule
    erasure: Erasure = Erasure()

    @cached_property
    def harm_event_types(self) -> frozenset[EventType]:
        """The kinds of event any significant-harm rule can fire on."""
        return frozenset(t for rule in self.significant_harm for t in rule.event_types)

    @model_validator(mode="after")
    def _references_resolve(self) -> Policy:
        ids = [rule.id for rule in self.significant_harm]
        ids += [self.practitioner_assertion.id, *(n.id for n in self.notifications)]
        duplicated = sorted({i for i in ids if ids.count(i) > 1})
        if duplicated:
            raise ValueError(f"rule ids must be unique: {', '.join(duplicated)}")
        bases = [n.basis for n in self.notifications] + [self.indicators.basis]
        for basis in bases:
            if basis not in self.lawful_bases:
                raise ValueError(f"basis {basis!r} is not one of lawful_bases")
        if "significant_harm" not in self.lawful_bases:
            raise ValueError("lawful_bases must name the significant_harm basis")
        missing = [r.value for r in Recipient if r not in self.recipients]
        if missing:
            raise ValueError(f"recipients has no entry for {', '.join(missing)}")
        for notification in self.notifications:
            if notification.view not in self.views:
                raise ValueError(f"view {notification.view!r} is not defined under views")
        for view, types in self.views.items():
            for event_type, fields in types.items():
                known = _payload_fields(frozenset({event_type}))
                unknown = [f for f in fields if f not in known]
                if unknown:
                    raise ValueError(f"views.{view}.{event_type}: no field {', '.join(unknown)}")
        return self

    def lawful_basis(self, name: str) -> str:
        return self.lawful_bases[name]

    def view_fields(self, view: str, event_type: EventType) -> tuple[str, ...]:
        return self.views.get(view, {}).get(event_type, ())


def _passes(test: SubjectTest, subject: Subject, at: datetime) -> bool:
    if test.roles and subject.role not in test.roles:
        return False
    if test.child and not is_child(subject, at):
        return False
    if test.under_months is not None:
        months = _months_old(subject, at)
        return months is not None and months < test.under_months
    return True


def is_child(subject: Subject, at: datetime) -> bool:
    """A child by role, or under 18 on the day of the event."""
    if subject.role in CHILD_ROLES:
        return True
    months = _months_old(subject, at)
    return months is not None and months < 18 * 12


def _months_old(subject: Subject, at: datetime) -> int | None:
    born: date | None = subject.demographics.date_of_birth
    if born is None:
        return None
    day = at.date()
    return (day.year - born.year) * 12 + day.month - born.month - (day.day < born.day)


def _payload_fields(event_types: frozenset[EventType]) -> set[str]:
    from typing import get_args

    union = get_args(get_args(Payload)[0])
    fields: set[str] = set()
    for model in union:
        if model.model_fields["kind"].default in {t.value for t in event_types}:
            fields |= set(model.model_fields)
    return fields


def default_policy_path() -> Path:
    return Path(str(resources.files("ehx.consent") / "policy.yaml"))


def load_policy(path: Path | None = None) -> Policy:
    """Load and validate a policy file (default: the configured one, else the shipped one)."""
    path = path or PolicySettings().policy_file or default_policy_path()
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise PolicyInvalid(str(path), None, f"cannot read it ({exc.__class__.__name__})") from exc
    return parse_policy(text, str(path))


def parse_policy(text: str, source: str = "<policy>") -> Policy:
    """Validate policy text; on a mistake, name the line it is on."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or "not valid YAML"
        raise PolicyInvalid(source, mark.line + 1 if mark else None, str(problem)) from exc
    if not isinstance(data, dict):
        raise PolicyInvalid(source, 1, "a policy is a mapping of settings")
    try:
        return Policy.model_validate(data)
    except ValidationError as exc:
        error = exc.errors(include_url=False, include_input=False)[0]
        location = [part for part in error["loc"] if not isinstance(part, str) or part]
        where = ".".join(str(part) for part in location)
        line = _line_of(node, location)
        reason = error["msg"].removeprefix("Value error, ")
        raise PolicyInvalid(source, line, f"{where}: {reason}" if where else reason) from exc


def _line_of(node: yaml.Node | None, location: list[str | int]) -> int | None:
    """The line of the deepest YAML node the error's location reaches."""
    line = node.start_mark.line + 1 if node is not None else None
    for part in location:
        if isinstance(node, yaml.MappingNode):
            match = next((v for k, v in node.value if k.value == str(part)), None)
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
            match = node.value[part] if part < len(node.value) else None
        else:
            match = None
        if match is None:
            break
        node = match
        line = node.start_mark.line + 1
    return line
