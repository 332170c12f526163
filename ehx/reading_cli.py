"""``ehx timeline``, ``ehx alerts``, ``ehx encompass``: what the screening team reads and decides.

Every read is recorded on ``ehx.audit`` before anything is shown, so these commands need
a running broker (``ehx up``, or ``EHX_BOOTSTRAP_SERVERS``).
"""

from __future__ import annotations

import asyncio
import getpass
import json
import sys
from datetime import UTC, datetime
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy import Engine

from ehx.alerts.auditing import decided, queue_read
from ehx.alerts.deciders import closing_refusal, refusal
from ehx.alerts.encompass import acknowledgers
from ehx.alerts.store import AlertStore, ScreeningDecision
from ehx.broker.auditing import audit_message
from ehx.broker.heap import keep_long_lived_out_of_collections
from ehx.broker.publishing import KafkaPublisher
from ehx.broker.settings import BrokerSettings
from ehx.consent import load_policy
from ehx.consent.keys import DataKeyStore
from ehx.database import migrate, open_engine
from ehx.organisations.people import LOCAL_AUTHORITY, Account, AccountError, Accounts
from ehx.rights.markers import Markers
from ehx.runtime import require_bootstrap
from ehx.schemas import ExchangeError
from ehx.schemas.audit import Action, AuditRecord
from ehx.schemas.vocabulary import SERVING_KINDS, Addressee, Recipient
from ehx.timeline.reading import audit_record, chronology_csv, open_entry
from ehx.timeline.service import rebuild
from ehx.timeline.store import TimelineQuery, TimelineStore, UnknownEntry

console = Console()
JsonOption = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]
ByOpt = Annotated[str, typer.Option("--by", help="Your practitioner id (recorded for audit).")]
PurposeOpt = Annotated[str, typer.Option(help="Why you are looking (recorded for audit).")]
#: Who screens alerts: the MASH, and the early help hub (Think Family alerts).
SCREENING_TEAMS = (Recipient.MASH.value, Recipient.EARLY_HELP.value)


def _print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")


def migrated_engine() -> Engine:
    """The configured database, migrated to the latest schema (every command's first step)."""
    engine = open_engine()
    migrate(engine)
    return engine


def record_read(*records: AuditRecord) -> None:
    """Put the audit records on ``ehx.audit`` and wait for the broker's acknowledgement."""

    async def send() -> None:
        bootstrap = require_bootstrap(BrokerSettings())
        async with KafkaPublisher(bootstrap, BrokerSettings()) as publisher:
            await publisher.publish([audit_message(r) for r in records])

    asyncio.run(send())


def staff(by: str, *acts_for: str) -> Account:
    """The live account ``--by`` names, acting for one of ``acts_for`` (``mash``,
    ``school:103291``, ``auditor``...); refused, saying whose account would do, if not."""
    try:
        return Accounts(migrated_engine()).acting(by, *acts_for)
    except AccountError as exc:
        raise typer.BadParameter(str(exc), param_hint="--by") from None


def operator_read(
    action: Action,
    by: str | None,
    purpose: str,
    *,
    family_id: str | None = None,
    subject_ids: tuple[str, ...] = (),
    acts_for: tuple[str, ...] = (Recipient.MASH.value,),
) -> AuditRecord:
    """A read from the command line, as the ledger keeps it: the person ``--by`` names (a
    live account acting for one of ``acts_for``: these reads see every family), in their
    role; with no ``--by``, the person at the keyboard by their login name, as the
    exchange's operator."""
    account = staff(by, *acts_for) if by else None
    return AuditRecord(
        action=action,
        actor=account.username if account else getpass.getuser(),
        role=account.role_name if account else "operator",
        agency=(account.acts_for or "exchange") if account else "exchange",
        purpose=purpose,
        family_id=family_id,
        subject_ids=subject_ids,
        at=datetime.now(UTC),
    )


def timeline(
    subject: Annotated[
        str,
        typer.Argument(
            help="A family id (f...) or a person id (p...); or `rebuild` to replay the topics."
        ),
    ],
    who: Annotated[
        str | None,
        typer.Option(
            "--as",
            help="Whose view: mash, early_help, police, or one organisation (school:103291, "
            "health:RQ3, housing:BCC).",
        ),
    ] = None,
    by: Annotated[str | None, typer.Option("--by", help="Your practitioner id (audited).")] = None,
    purpose: PurposeOpt = "case work",
    category: Annotated[list[str] | None, typer.Option(help="Only these categories.")] = None,
    agency: Annotated[list[str] | None, typer.Option(help="Only from these agencies.")] = None,
    since: Annotated[datetime | None, typer.Option("--from", help="From this date.")] = None,
    until: Annotated[datetime | None, typer.Option("--to", help="Up to this date.")] = None,
    last: Annotated[
        int | None, typer.Option("--last", min=1, help="Only the latest this many entries.")
    ] = None,
    before: Annotated[
        str | None,
        typer.Option(help="Only entries before this event id (the oldest one you were shown)."),
    ] = None,
    as_json: JsonOption = False,
    as_csv: Annotated[
        bool, typer.Option("--csv", help="Print the chronology as CSV (for a case file).")
    ] = False,
) -> None:
    """A family's (or a person's) timeline across agencies, as one recipient may see it.

    Each entry says what happened, which agency, and why this viewer may see it (the
    consent record, or the rule and its lawful basis). Your read is recorded for audit
    before it is shown (only what is shown: with --last, that page).

    A long timeline a page at a time: `--last 50` shows the latest fifty, and says how
    to ask for the fifty before them (`--before` the oldest entry's event id).

    `ehx timeline rebuild` empties the timeline store and replays ehx.share.* into it.
    """
    engine = migrated_engine()
    store = TimelineStore(engine)
    if subject == "rebuild":
        bootstrap = require_bootstrap(BrokerSettings())
        keep_long_lived_out_of_collections()  # the timeline service's work, in bulk
        applied = asyncio.run(rebuild(store, bootstrap))
        console.print(
            f"Rebuilt: {applied.shown} shown, {applied.superseded} superseded, "
            f"{applied.retracted} retracted, {applied.replays} replays."
        )
        return
    if who is None or by is None:
        raise typer.BadParameter("say whose view (--as) and who you are (--by)")
    try:
        recipient = Addressee.parse(who)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--as") from None
    if recipient.recipient in SERVING_KINDS and recipient.code is None:
        one = Addressee(recipient.recipient, "CODE")
        raise typer.BadParameter(
            f"{recipient.label} read as one of them: --as {one}", param_hint="--as"
        )
    reader = staff(by, str(recipient))  # before anything is read: someone who reads as --as
    query = TimelineQuery(
        str(recipient),
        family_id=subject if subject.startswith("f") else None,
        person_id=subject if subject.startswith("p") else None,
        categories=frozenset(category or ()),
        agencies=frozenset(agency or ()),
        since=since.replace(tzinfo=since.tzinfo or UTC) if since else None,
        until=until.replace(tzinfo=until.tzinfo or UTC) if until else None,
        limit=last,
        before=before,
    )
    try:
        page = store.page(query)
    except UnknownEntry as exc:
        raise typer.BadParameter(str(exc), param_hint="--before") from exc
    views = page.entries
    record_read(
        audit_record(
            views,
            reader.username,
            reader.role_name,
            str(recipient),
            purpose,
            datetime.now(UTC),
            family_id=query.family_id,
        )
    )
    keys = DataKeyStore(engine)
    entries = Markers(engine).shown_with_disputes([open_entry(v, keys) for v in views])
    if as_json:
        _print_json([e.as_dict() for e in entries])
        return
    if as_csv:
        sys.stdout.write(chronology_csv(entries))
        return
    if not entries:
        console.print(f"Nothing about {subject} in the {recipient} view.")
        return
    table = Table(
        "when",
        "agency",
        "what happened",
        "people",
        "why you may see it",
        title=f"{subject} as {recipient} sees it ({len(entries)} entries)",
    )
    for entry in entries:
        people = ", ".join(f"{p.name or p.person_id} ({p.role})" for p in entry.people)
        table.add_row(
            entry.view.occurred_at.date().isoformat(),
            entry.view.source_agency,
            entry.told,
            people,
            entry.why,
        )
    console.print(table)
    if page.before:
        console.print(
            f"Earlier entries: ehx timeline {subject} --as {recipient} --by {by} "
            f"--last {last} --before {page.before}",
            soft_wrap=True,  # one line, to copy whole
        )


alerts_app = typer.Typer(
    help="MASH alerts: significant harm and Think Family, most urgent first.",
    invoke_without_command=True,
)


@alerts_app.callback()
def alerts_queue(
    ctx: typer.Context,
    show_all: Annotated[bool, typer.Option("--all", help="Include decided alerts.")] = False,
    by: Annotated[
        str | None, typer.Option("--by", help="Your practitioner id (audited); default: you.")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """The alert queue, most urgent first (`ehx alerts decide` records a decision).

    Your look at the queue is recorded for audit before it is shown.
    """
    if ctx.invoked_subcommand is not None:
        return
    account = staff(by, *SCREENING_TEAMS) if by else None
    rows = AlertStore(migrated_engine()).queue(include_decided=show_all)
    reader, role = (
        (account.username, account.role_name) if account else (getpass.getuser(), "operator")
    )
    record_read(queue_read(rows, reader, role, "mash", datetime.now(UTC)))
    if as_json:
        _print_json(rows)
        return
    if not rows:
        console.print("No alerts.")
        return
    table = Table("alert", "kind", "level", "status", "why", "due", title="Alerts")
    for row in rows:
        table.add_row(
            row["alert_id"],
            row["kind"],
            row["level"],
            row["status"],
            "; ".join(row["reasons"]),
            str(row["due_at"] or "")[:16],
        )
    console.print(table)


@alerts_app.command("screen")
def alerts_screen(alert_id: Annotated[str, typer.Argument()], by: ByOpt) -> None:
    """Take an alert into screening (new → in screening)."""
    store = AlertStore(migrated_engine())
    _may_move(store, alert_id, staff(by, *SCREENING_TEAMS))
    store.screen(alert_id, by, datetime.now(UTC))
    console.print(f"{alert_id}: in screening ({by}).")


@alerts_app.command("decide")
def alerts_decide(
    alert_id: Annotated[str, typer.Argument()],
    outcome: Annotated[ScreeningDecision, typer.Option(help="The screening decision.")],
    by: ByOpt,
    rationale: Annotated[
        str,
        typer.Option(
            help="Why, in a sentence or more: what the family, a manager and an auditor read later."
        ),
    ],
    lead_professional: Annotated[
        str,
        typer.Option(
            help="Early help with a team around the family: the lead professional (who, "
            "and for whom they work)."
        ),
    ] = "",
) -> None:
    """Record the screening decision, with who made it and when (audited).

    --by is a MASH screener's or manager's account (or, for a Think Family alert, an early
    help practitioner's); only a MASH manager closes a significant-harm alert with no
    further action."""
    store, now = AlertStore(migrated_engine()), datetime.now(UTC)
    account = staff(by, *SCREENING_TEAMS)
    _may_move(store, alert_id, account, outcome)
    try:
        store.decide(alert_id, outcome, by, now, rationale, lead_professional)
    except ExchangeError as exc:
        raise typer.BadParameter(str(exc)) from None
    team = account.acts_for or ""
    record_read(decided(store.get(alert_id), by, account.role_name, team, now))
    console.print(f"{alert_id}: decided {outcome.value} ({by}).")


def _may_move(store: AlertStore, alert_id: str, account: Account, outcome: str = "") -> None:
    """Refuse, saying who may, a person whose team does not screen this kind of alert or
    whose role may not decide this outcome."""
    kind = store.get(alert_id)["kind"]
    why = refusal(kind, account.team) or closing_refusal(kind, outcome, account.role_name)
    if why is not None:
        raise typer.BadParameter(why, param_hint="--by")


encompass_app = typer.Typer(
    help="Operation Encompass notifications to schools' key adults, and their deadlines.",
    invoke_without_command=True,
)


@encompass_app.callback()
def encompass_report(
    ctx: typer.Context,
    by: Annotated[
        str | None, typer.Option("--by", help="Your practitioner id (audited); default: you.")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Every notification: to whom, due when, met, breached or pending, escalation.

    Which children, at which schools, is personal: your look is recorded for audit first.
    """
    if ctx.invoked_subcommand is not None:
        return
    store = AlertStore(migrated_engine())
    store.escalate(load_policy().operation_encompass, datetime.now(UTC))
    rows = store.notifications(datetime.now(UTC))
    record_read(
        operator_read(
            Action.ENCOMPASS_READ,
            by,
            "Operation Encompass notifications",
            subject_ids=tuple(sorted({str(r["person_id"]) for r in rows})),
            acts_for=(Recipient.MASH.value, LOCAL_AUTHORITY),
        )
    )
    if as_json:
        _print_json(rows)
        return
    table = Table(
        "notification",
        "to",
        "due",
        "deadline",
        "escalation",
        "acknowledged by",
        title="Operation Encompass",
    )
    for row in rows:
        table.add_row(
            row["notification_id"],
            row["addressed_to"],
            str(row["due_at"])[:16],
            row["deadline"],
            row["escalation"],
            row["acknowledged_by"] or "",
        )
    console.print(table if rows else "No notifications.")
    met = sum(r["deadline"] == "met" for r in rows)
    breached = sum(r["deadline"] == "breached" for r in rows)
    console.print(f"{met} met, {breached} breached, {len(rows) - met - breached} pending.")


@encompass_app.command("ack")
def encompass_ack(notification_id: Annotated[str, typer.Argument()], by: ByOpt) -> None:
    """The key adult acknowledges a notification.

    --by is an account of the child's school (ehx people add NAME --role practitioner
    --view schools --org URN) or, for a notification that is the local authority's (the
    child on no roll, or unmet past the deputy), its Operation Encompass officer (--role
    encompass_officer)."""
    store = AlertStore(migrated_engine())
    found = store.notification(notification_id)
    if found is None:
        raise typer.BadParameter(f"no notification {notification_id} (ehx encompass lists them)")
    account = staff(by, *acknowledgers(found["school_urn"], found["escalation"]))
    store.acknowledge(notification_id, by, datetime.now(UTC), account.acts_for)
    console.print(f"{notification_id}: acknowledged by {by}.")


def find(
    by: Annotated[
        str, typer.Option("--by", help="Your account: whose views you search as (audited).")
    ],
    purpose: Annotated[str, typer.Option(help="Why you are looking (recorded for audit).")],
    name: Annotated[str, typer.Option(help="Words of a given or family name, any case.")] = "",
    born: Annotated[
        datetime | None, typer.Option(formats=["%Y-%m-%d"], help="Date of birth.")
    ] = None,
    nhs_number: Annotated[str, typer.Option(help="An NHS number.")] = "",
    as_json: JsonOption = False,
) -> None:
    """Find a person by name, date of birth or NHS number: their names, age and families.

    The MASH finds anyone the exchange holds; anyone else only the people their own
    views name (a school its pupils). Your search is recorded for audit first, with its
    purpose and the people it showed, never the words you searched for.

    ```
    ehx find --name "maryam khan" --by sw-12 \\
      --purpose "strategy discussion prep"
    ```
    """
    from ehx.api.people_search import SearchRefused, find_people, search_read

    engine = migrated_engine()
    account = Accounts(engine).get(by)
    if account is None or not account.reads_families or account.acts_for is None:
        raise typer.BadParameter(
            "the person named is not a live account that reads families (ehx people list)",
            param_hint="--by",
        )
    try:
        found = find_people(
            engine,
            account.acts_for,
            name=name,
            born=born.date() if born else None,
            nhs_number=nhs_number,
        )
    except SearchRefused as exc:
        raise typer.BadParameter(str(exc)) from None
    record_read(search_read(found, account.username, account.role_name, account.acts_for, purpose))
    if as_json:
        _print_json(found)
        return
    if not found:
        console.print("Nobody you may see matches.")
        return
    table = Table("person", "names", "born", "age", "families", title=f"{len(found)} found")
    for p in found:
        table.add_row(
            p["person_id"],
            "; ".join(p["names"]),
            p["date_of_birth"] or "",
            str(p["age"] or ""),
            ", ".join(p["families"]),
        )
    console.print(table)
