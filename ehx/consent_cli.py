"""``ehx consent``: record consent, assert significant harm, review overrides, preview views.

Records go on the ``ehx.consent`` topic (the registry is event-sourced from it); the
consent service takes them in and re-decides what they touch. What is shown comes from
the consent service's store. Ids only: people and families are named by the pseudonymous
ids the linker gave them (``ehx consent preview`` and the timeline show them).
"""

from __future__ import annotations

import asyncio
import json
import sys
from datetime import UTC, datetime
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from ehx.broker.settings import BrokerSettings
from ehx.consent import (
    ConsentRecord,
    ConsentState,
    Giver,
    HarmAssertion,
    Outcome,
    OverrideReview,
    Purpose,
    ReviewOutcome,
    SubjectKind,
    load_policy,
)
from ehx.consent.recording import (
    DPO,
    giving_refusal,
    on_file,
    review_refusal,
    withdrawal_refusal,
)
from ehx.consent.records import scope
from ehx.consent.registry import ConsentTopicRecord
from ehx.consent.service import consent_message
from ehx.consent.store import ConsentStore
from ehx.database import migrate, open_engine
from ehx.organisations.people import Account, Accounts, Role
from ehx.reading_cli import operator_read, record_read
from ehx.runtime import require_bootstrap
from ehx.schemas import THINK_FAMILY_PROBLEMS, Category, ExchangeError
from ehx.schemas.audit import Action
from ehx.schemas.vocabulary import Addressee, Recipient

console = Console()
app = typer.Typer(
    help=(
        "Consent: who agreed to share what, with whom, for what, until when; "
        "significant-harm assertions and override reviews."
    ),
    no_args_is_help=True,
)

JsonOption = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]
THINK_FAMILY = "think_family"


def _print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")


def _store() -> ConsentStore:
    engine = open_engine()
    migrate(engine)
    return ConsentStore(engine)


def _publish(record: ConsentTopicRecord) -> None:
    from ehx.broker.publishing import KafkaPublisher

    async def send() -> None:
        bootstrap = require_bootstrap(BrokerSettings())
        async with KafkaPublisher(bootstrap, BrokerSettings()) as publisher:
            await publisher.publish([consent_message(record)])

    asyncio.run(send())


def _categories(values: list[str]) -> tuple[Category, ...]:
    found: list[Category] = []
    for value in values:
        if value == THINK_FAMILY:
            found += sorted(THINK_FAMILY_PROBLEMS)
            continue
        try:
            found.append(Category(value))
        except ValueError as exc:
            known = ", ".join([THINK_FAMILY, *(c.value for c in Category)])
            raise typer.BadParameter(f"unknown category {value!r}; one of: {known}") from exc
    return tuple(dict.fromkeys(found))


def _subject(person: str | None, family: str | None) -> tuple[SubjectKind, str]:
    if bool(person) == bool(family):
        raise typer.BadParameter("name exactly one of --person or --family")
    return (SubjectKind.PERSON, person) if person else (SubjectKind.FAMILY, family or "")


def _recorder(by: str, agency: Recipient) -> Account:
    """The live account --by names, if it is one of ``agency``'s people (its school, trust
    or landlord is recorded with the consent); refused, saying whose would do, if not."""
    engine = open_engine()
    migrate(engine)
    account = Accounts(engine).get(by)
    if account is None or account.team is not agency:
        raise typer.BadParameter(
            f"the person named is not a live account of {agency.label}: name someone with "
            f"an account of {agency.label} (ehx people list shows them)",
            param_hint="--by",
        )
    return account


def _record(
    state: ConsentState,
    person: str | None,
    family: str | None,
    giver: Giver,
    given_by: str | None,
    by: str,
    agency: Recipient,
    to: list[str],
    category: list[str],
    purpose: Purpose,
    valid_from: datetime | None,
    until: datetime | None,
    evidence: str,
    competence: str = "",
) -> ConsentRecord:
    kind, subject_id = _subject(person, family)
    recorder = _recorder(by, agency)
    now = datetime.now(UTC)
    try:
        recipients, organisations = scope(to)
        record = ConsentRecord(
            state=state,
            subject_kind=kind,
            subject_id=subject_id,
            given_by=given_by
            or (subject_id if giver in (Giver.YOUNG_PERSON, Giver.ADULT) else None),
            giver=giver,
            recorded_by=by,
            recorded_by_agency=agency,
            recorded_by_organisation=recorder.organisation,
            recipients=recipients,
            organisations=organisations,
            categories=_categories(category),
            purpose=purpose,
            valid_from=_aware(valid_from) or now,
            valid_until=_aware(until),
            evidence=evidence,
            competence=competence,
            recorded_at=now,
        )
    except ValueError as exc:
        raise typer.BadParameter(str(exc).splitlines()[-1].strip()) from exc
    store = _store()
    families = {subject_id} if kind is SubjectKind.FAMILY else store.families_of(subject_id)
    held = on_file(store.family_events(families))
    why = giving_refusal(record, held, now, load_policy().young_person_min_age)
    if why is not None:
        raise typer.BadParameter(why, param_hint="--giver/--given-by")
    return record


def _aware(moment: datetime | None) -> datetime | None:
    return moment.replace(tzinfo=UTC) if moment is not None and moment.tzinfo is None else moment


PersonOpt = Annotated[
    str | None, typer.Option("--person", help="The person's id (e.g. p00000003).")
]
FamilyOpt = Annotated[
    str | None, typer.Option("--family", help="The family's id (e.g. f00000001).")
]
GiverOpt = Annotated[
    Giver,
    typer.Option(help="parent or carer (for the family's children), young_person or adult (own)."),
]
GivenByOpt = Annotated[
    str | None,
    typer.Option("--given-by", help="Person id of who gave it (a parent covers themselves too)."),
]
ByOpt = Annotated[
    str, typer.Option("--by", help="The practitioner's account (ehx people): who recorded it.")
]
ReaderOpt = Annotated[
    str | None, typer.Option("--by", help="Your id (recorded for audit); default: you.")
]
AgencyOpt = Annotated[Recipient, typer.Option("--agency", help="The practitioner's agency.")]
ToOpt = Annotated[
    list[str],
    typer.Option(
        "--to",
        help="Who it covers (repeat): a kind (schools: the child's school, whichever it is "
        "when an event is decided; health: any NHS trust treating them; housing: their "
        "landlord; police; mash; early_help) or one organisation (school:103291).",
    ),
]
CategoryOpt = Annotated[
    list[str],
    typer.Option(
        "--category",
        help=f"A category it covers (repeat); {THINK_FAMILY} means the six Think Family problems.",
    ),
]
PurposeOpt = Annotated[Purpose, typer.Option(help="What it may be used for.")]
FromOpt = Annotated[datetime | None, typer.Option("--from", help="Valid from (default now).")]
UntilOpt = Annotated[datetime | None, typer.Option("--until", help="Valid until (default open).")]
EvidenceOpt = Annotated[
    str, typer.Option(help="Where the consent is written down (a form reference, not a narrative).")
]
CompetenceOpt = Annotated[
    str,
    typer.Option(
        help="A young person's own consent: where you recorded their competence to give it "
        "(from the policy's minimum age, 12)."
    ),
]


@app.command()
def grant(
    by: ByOpt,
    agency: AgencyOpt,
    to: ToOpt,
    category: CategoryOpt,
    purpose: PurposeOpt,
    giver: GiverOpt = Giver.PARENT,
    person: PersonOpt = None,
    family: FamilyOpt = None,
    given_by: GivenByOpt = None,
    valid_from: FromOpt = None,
    until: UntilOpt = None,
    evidence: EvidenceOpt = "",
    competence: CompetenceOpt = "",
) -> None:
    """Record consent to share, with its scope. Prints the consent id.

    Example: a mother (p00000001) agrees that the early help hub and the school may
    share the family's Think Family information for an early help assessment:

    ```
    ehx consent grant --family f00000001 --giver parent \\
      --given-by p00000001 --by ew-0042 --agency early_help \\
      --to early_help --to schools --category think_family \\
      --purpose early_help_assessment --evidence "EHA form 2211"
    ```
    """
    record = _record(
        ConsentState.GRANTED,
        person,
        family,
        giver,
        given_by,
        by,
        agency,
        to,
        category,
        purpose,
        valid_from,
        until,
        evidence,
        competence,
    )
    _publish(record)
    console.print(f"Consent {record.consent_id} granted; the consent service re-decides now.")


@app.command()
def refuse(
    by: ByOpt,
    agency: AgencyOpt,
    to: ToOpt,
    category: CategoryOpt,
    purpose: PurposeOpt,
    giver: GiverOpt = Giver.PARENT,
    person: PersonOpt = None,
    family: FamilyOpt = None,
    given_by: GivenByOpt = None,
    valid_from: FromOpt = None,
    until: UntilOpt = None,
    evidence: EvidenceOpt = "",
    competence: CompetenceOpt = "",
) -> None:
    """Record that consent was refused (a refusal is kept, and named in every denial)."""
    record = _record(
        ConsentState.REFUSED,
        person,
        family,
        giver,
        given_by,
        by,
        agency,
        to,
        category,
        purpose,
        valid_from,
        until,
        evidence,
        competence,
    )
    _publish(record)
    console.print(f"Refusal {record.consent_id} recorded.")


@app.command()
def withdraw(
    consent_id: Annotated[str, typer.Argument(help="The consent to withdraw.")],
    by: ByOpt,
) -> None:
    """Withdraw consent: flows stop at once; what recipients got under it is made unreadable.

    --by must be an active console account: the data protection officer (--role dpo), a
    MASH screener or manager, or a practitioner of the organisation that recorded it.
    The ledger names them and their role.
    """
    engine = open_engine()
    migrate(engine)
    found = ConsentStore(engine).record(consent_id)
    if not isinstance(found, ConsentRecord):
        raise ExchangeError(f"no consent {consent_id} on record (ehx consent show SUBJECT)")
    if found.state is not ConsentState.GRANTED:
        raise ExchangeError(f"consent {consent_id} is {found.state.value}, not granted")
    account = Accounts(engine).get(by)
    role = DPO if account is not None and account.role is Role.DPO else None
    caller = account.team if account is not None and role is None else None
    if account is None or (role is None and caller is None):
        raise ExchangeError(
            f"{by} is not an active account that withdraws consent: the data protection "
            "officer, the MASH, or a practitioner of the organisation that recorded it"
        )
    why = withdrawal_refusal(found, caller, account.organisation)
    if why is not None:
        raise ExchangeError(why)
    _publish(found.withdraw(by, datetime.now(UTC), caller, role))
    console.print(f"Consent {consent_id} withdrawn; recipients' keys for it will be destroyed.")


@app.command("assert-harm")
def assert_harm(
    person: Annotated[str, typer.Option("--person", help="The child's person id.")],
    family: Annotated[str, typer.Option("--family", help="The child's family id.")],
    by: ByOpt,
    agency: AgencyOpt,
    reason: Annotated[str, typer.Option(help="Why: at least a sentence; it is audited.")],
) -> None:
    """Assert significant harm: the family's events go to the MASH as a reviewed override.

    The assertion and its reason are recorded; a manager must countersign or reverse
    each override it opens (ehx consent overrides, ehx consent review).
    """
    _recorder(by, agency)
    try:
        record = HarmAssertion(
            person_id=person,
            family_id=family,
            asserted_by=by,
            asserted_by_agency=agency,
            reason=reason,
            asserted_at=datetime.now(UTC),
        )
    except ValueError as exc:
        raise typer.BadParameter(str(exc).splitlines()[-1].strip()) from exc
    _publish(record)
    console.print(
        f"Assertion {record.assertion_id} recorded; the MASH receives the family's events."
    )


@app.command()
def review(
    override_id: Annotated[str, typer.Argument(help="The override (ehx consent overrides).")],
    by: ByOpt,
    reverse: Annotated[
        bool, typer.Option("--reverse/--countersign", help="Reverse it, or countersign it.")
    ] = False,
    note: Annotated[str, typer.Option(help="The manager's note.")] = "",
) -> None:
    """Countersign or reverse a significant-harm override (reversing retracts what it sent).

    --by must be a MASH manager's console account (ehx people add NAME --role manager),
    and not the practitioner who asserted the harm: nobody countersigns their own.
    """
    engine = open_engine()
    migrate(engine)
    store = ConsentStore(engine)
    rows = [d for d in store.decisions(outcome=Outcome.OVERRIDE) if d["decision_id"] == override_id]
    if not rows:
        raise ExchangeError(f"no override {override_id} (ehx consent overrides lists them)")
    asserters = {
        found.asserted_by
        for ref in rows[0]["body"].get("evidence_event_ids", [])
        if ref.startswith("assertion:")
        and isinstance(found := store.record(ref.removeprefix("assertion:")), HarmAssertion)
    }
    reviewer = Accounts(engine).get(by)
    why = review_refusal(by, reviewer.role_name if reviewer else None, asserters)
    if why is not None:
        raise ExchangeError(why)
    record = OverrideReview(
        override_id=override_id,
        outcome=ReviewOutcome.REVERSED if reverse else ReviewOutcome.COUNTERSIGNED,
        reviewed_by=by,
        note=note,
        reviewed_at=datetime.now(UTC),
    )
    _publish(record)
    console.print(f"Override {override_id} {record.outcome.value}.")


@app.command()
def show(
    subject: Annotated[str, typer.Argument(help="A person id or a family id.")],
    by: ReaderOpt = None,
    as_json: JsonOption = False,
) -> None:
    """Show the consent records about a person or a family, and their state now.

    Consent records name people and say where the evidence is: your look is recorded
    for audit before they are shown (so a broker must be running)."""
    records = [r for r in _store().records_about(subject) if isinstance(r, ConsentRecord)]
    record_read(operator_read(Action.CONSENTS_READ, by, "consent records", subject_ids=(subject,)))
    now = datetime.now(UTC)
    if as_json:
        _print_json([r.model_dump(mode="json") | {"in_force": r.in_force(now)} for r in records])
        return
    if not records:
        console.print(f"No consent recorded about {subject}.")
        return
    table = Table(
        "consent",
        "state",
        "giver",
        "recipients",
        "categories",
        "purpose",
        "valid",
        title=f"Consent about {subject}",
    )
    for r in records:
        state = "in force" if r.in_force(now) else r.state.value
        until = r.valid_until.date().isoformat() if r.valid_until else "open"
        table.add_row(
            str(r.consent_id),
            state,
            r.giver.value,
            ", ".join(x.value for x in r.recipients),
            ", ".join(c.value for c in r.categories),
            r.purpose.value,
            f"{r.valid_from.date().isoformat()} to {until}",
        )
    console.print(table)


@app.command()
def preview(
    family: Annotated[str, typer.Argument(help="The family id.")],
    who: Annotated[
        str,
        typer.Option(
            "--as",
            help="Who: one organisation (school:103291, health:RQ3, housing:BCC), a kind "
            "(schools: each school serving the family, a line each), mash, early_help, police.",
        ),
    ],
    by: ReaderOpt = None,
    as_json: JsonOption = False,
) -> None:
    """What one organisation would see of FAMILY now, under the consents on record and
    the policy: as the consent service would decide it (a school sees only its pupils).

    Field names and people, not values; still, which agencies know the family and when
    is personal: your look is recorded for audit first (so a broker must be running).
    """
    from ehx.consent.preview import preview as run_preview

    try:
        recipient = Addressee.parse(who)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--as") from None
    lines = run_preview(_store(), load_policy(), family, recipient, datetime.now(UTC))
    purpose = f"preview of {recipient.label}'s view"
    record_read(operator_read(Action.PREVIEW_READ, by, purpose, family_id=family))
    if as_json:
        _print_json([line.as_dict() for line in lines])
        return
    table = Table(
        "when",
        "to",
        "agency",
        "event",
        "outcome",
        "basis",
        "people",
        "fields",
        title=f"{family} as {recipient} would see it",
    )
    for line in lines:
        d = line.as_dict()
        table.add_row(
            d["occurred_at"][:10],
            d["recipient"],
            d["agency"],
            d["event_type"],
            d["outcome"],
            d["basis"] or d["reason"],
            ", ".join(d["people"]),
            ", ".join(d["fields"])
            + (f" (address withheld: {d['address_withheld']})" if d["address_withheld"] else ""),
        )
    console.print(table)


@app.command()
def overrides(
    overdue: Annotated[
        bool, typer.Option("--overdue", help="Only those past their review time.")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Significant-harm overrides, with their rule, lawful basis and review state."""
    now = datetime.now(UTC)
    rows = []
    for row in _store().decisions(outcome=Outcome.OVERRIDE):
        due = _aware(row["review_due"])
        late = row["reviewed_outcome"] is None and due is not None and due < now
        if overdue and not late:
            continue
        rows.append(
            {
                "override_id": row["decision_id"],
                "family_id": row["family_id"],
                "rule": row["rule"],
                "decided_at": row["decided_at"],
                "review_due": due,
                "review": row["reviewed_outcome"] or ("OVERDUE" if late else "awaiting"),
                "reviewed_by": row["reviewed_by"],
            }
        )
    if as_json:
        _print_json(rows)
        return
    table = Table(
        "override", "family", "rule", "review due", "review", title="Significant-harm overrides"
    )
    for r in rows:
        table.add_row(
            r["override_id"], r["family_id"], r["rule"], str(r["review_due"])[:16], r["review"]
        )
    console.print(table if rows else "No overrides.")


@app.command()
def decisions(
    family: Annotated[str | None, typer.Option(help="Only this family.")] = None,
    as_json: JsonOption = False,
) -> None:
    """The latest decision for each event and recipient: outcome and basis, ids only."""
    rows = [row["body"] for row in _store().decisions(family_id=family)]
    if as_json:
        _print_json(rows)
        return
    table = Table("event", "recipient", "outcome", "basis", "reason", title="Decisions")
    for d in rows:
        basis = d["rule"] or ", ".join(d["consent_ids"]) or ""
        table.add_row(d["event_id"], d["recipient"], d["outcome"], basis, d["reason"])
    console.print(table)
