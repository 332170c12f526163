"""``ehx rights``: a data protection officer answers a subject access request, marks items
withheld for serious harm or disputed, sweeps what the retention schedule says has been
kept long enough, erases a person where the law allows, and proves each removal
(docs/rights.md).

Each act is recorded on ``ehx.audit`` before anything is written, so these commands need
a running broker (``ehx up``) and ``--by``.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import Progress
from sqlalchemy import Engine

from ehx.broker.settings import BrokerSettings
from ehx.consent import load_policy
from ehx.consent.keys import DataKeyStore
from ehx.consent.store import ConsentStore
from ehx.organisations.people import AUDITOR, Account, Role
from ehx.reading_cli import migrated_engine, record_read, staff
from ehx.rights.access import UnknownPerson, as_html, assemble
from ehx.rights.erase_person import ErasureRefused, erase
from ehx.rights.markers import MIN_REASON, Markers
from ehx.rights.proof import Proof, check_tables, check_topics, removed_of
from ehx.rights.removal import Who
from ehx.rights.sweep import sweep
from ehx.rights.transit import cut_transit
from ehx.runtime import require_bootstrap
from ehx.schemas.audit import Action, AuditRecord
from ehx.schemas.vocabulary import Addressee, Recipient

app = typer.Typer(
    help="Data subject rights: subject access (what is held about a person, who received "
    "it, who looked), items withheld for serious harm, items the person disputes, the "
    "retention sweep, erasure, and the proof that what was removed cannot be read.",
    no_args_is_help=True,
)
console = Console()
DpoOpt = Annotated[
    str, typer.Option("--by", help="Your data protection officer's account (ehx people).")
]
RELEASE = "subject-access"


def _dpo(by: str) -> Account:
    """The live DPO account ``--by`` names; an auditor's, or anyone else's, is refused."""
    account = staff(by, AUDITOR)
    if account.role is not Role.DPO:
        raise typer.BadParameter(
            "subject access and disputes are the data protection officer's: name a DPO's "
            "account (an administrator adds one with ehx people add NAME --role dpo)",
            param_hint="--by",
        )
    return account


def _recorded(account: Account, action: Action, purpose: str, **ids: tuple[str, ...]) -> None:
    record_read(
        AuditRecord(
            action=action,
            actor=account.username,
            role=account.role_name,
            agency=account.acts_for or AUDITOR,
            purpose=purpose,
            at=datetime.now(UTC),
            **ids,
        )
    )


@app.command("access")
def access(
    person: Annotated[str, typer.Argument(help="The person's id (p...): ehx find gives it.")],
    by: DpoOpt,
    out: Annotated[
        Path, typer.Option(help="A folder for the package: an HTML copy and JSON.", file_okay=False)
    ],
    release_withheld: Annotated[
        list[str] | None,
        typer.Option(
            "--release-withheld",
            help="An item held back for your decision that you have decided to release "
            "(its event id); repeat for more.",
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
) -> None:
    """Everything held about a person, for their subject access request.

    Writes OUT/subject-access.html (their copy: each record as the agency sent it, who was
    given it, when and why, the consent on record, and each time someone received or
    looked at it; other people's details and staff names redacted), OUT/subject-access.json
    (the same, for machines) and OUT/for-your-decision.json (items a practitioner asked to
    withhold for serious harm, and concerns of significant harm, with why: not released
    until you decide). Your reading of it all is recorded first.
    """
    account = _dpo(by)
    engine = migrated_engine()
    try:
        package = assemble(
            engine,
            person,
            account.username,
            load_policy().subject_access,
            datetime.now(UTC),
            frozenset(release_withheld or ()),
        )
    except UnknownPerson as exc:
        raise typer.BadParameter(str(exc), param_hint="PERSON") from None
    _recorded(
        account,
        Action.SUBJECT_ACCESS,
        "subject access request",
        subject_ids=tuple(package.ids),
        event_ids=tuple(package.event_ids),
    )
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{RELEASE}.html").write_text(as_html(package))
    (out / f"{RELEASE}.json").write_text(json.dumps(package.released(), indent=2))
    (out / "for-your-decision.json").write_text(json.dumps(package.for_decision, indent=2))
    summary = {
        "person_id": package.person_id,
        "records": len(package.records),
        "disclosures": len(package.disclosures),
        "consents": len(package.consents),
        "audit_entries": len(package.audit),
        "for_your_decision": len(package.for_decision),
        "respond_by": package.respond_by.date().isoformat(),
        "out": str(out),
    }
    if as_json:
        sys.stdout.write(json.dumps(summary, indent=2) + "\n")
        return
    console.print(
        f"{summary['records']} records, {summary['disclosures']} disclosures, "
        f"{summary['consents']} consent records and {summary['audit_entries']} audit "
        f"entries about {person}, written to {out}. Respond by {summary['respond_by']}.",
        highlight=False,
    )
    if package.for_decision:
        console.print(
            f"{len(package.for_decision)} items held back for your decision: "
            f"{out / 'for-your-decision.json'} says why. To release one after all, run "
            "this again with --release-withheld EVENT_ID.",
            highlight=False,
        )
    console.print(
        f"Read {out / (RELEASE + '.html')} before you send it; then ehx rights release "
        f"{out} --by {account.username} records what you sent.",
        highlight=False,
    )


@app.command("release")
def release(
    out: Annotated[
        Path,
        typer.Argument(help="The folder ehx rights access wrote.", exists=True, file_okay=False),
    ],
    by: DpoOpt,
) -> None:
    """Record that you sent the package, so what was released can be proved later.

    Its SHA-256 goes on the audit ledger."""
    account = _dpo(by)
    document = out / f"{RELEASE}.json"
    if not document.exists():
        raise typer.BadParameter(f"no {document.name} in {out}: run ehx rights access first")
    package = json.loads(document.read_text())
    digest = hashlib.sha256((out / f"{RELEASE}.html").read_bytes() + document.read_bytes())
    record_read(
        AuditRecord(
            action=Action.SUBJECT_ACCESS_RELEASED,
            actor=account.username,
            role=account.role_name,
            agency=AUDITOR,
            purpose="subject access release",
            subject_ids=tuple(package["ids"]),
            bases=(f"sha256:{digest.hexdigest()}",),
            at=datetime.now(UTC),
        )
    )
    console.print(
        f"Release to {package['person_id']} recorded (sha256 {digest.hexdigest()[:16]}…).",
        highlight=False,
    )


@app.command("withhold")
def withhold(
    event: Annotated[str, typer.Argument(help="The item's event id (ehx timeline shows it).")],
    by: Annotated[
        str,
        typer.Option(
            "--by", help="Your account: of the organisation that sent the record, or the MASH."
        ),
    ],
    reason: Annotated[
        str, typer.Option(help="Why releasing it would be likely to cause serious harm.")
    ],
) -> None:
    """Ask that an item be withheld from a subject access release: serious harm.

    Telling would be likely to cause serious harm (DPA 2018 Sch. 3 para 7). The DPO
    decides; the item and your reason are listed for them, never silently dropped."""
    engine = migrated_engine()
    found = ConsentStore(engine).events([event])
    if event not in found:
        raise typer.BadParameter(f"no item {event} is held", param_hint="EVENT")
    source = found[event].source
    sender = str(Addressee.sender(source.agency.value, source.organisation))
    account = staff(by, sender, Recipient.MASH.value)
    if len(reason.strip()) < MIN_REASON:
        raise typer.BadParameter(
            "say why, in a sentence: the DPO decides on it", param_hint="--reason"
        )
    _recorded(account, Action.ITEM_WITHHELD, "withhold: serious harm", event_ids=(event,))
    Markers(engine).withhold(
        event, account.username, account.acts_for or sender, reason, datetime.now(UTC)
    )
    console.print(f"{event} is marked to withhold, for the DPO's decision.", highlight=False)


@app.command("dispute")
def dispute(
    event: Annotated[str, typer.Argument(help="The item's event id.")],
    by: DpoOpt,
    note: Annotated[str, typer.Option(help="What the person says is wrong, in their words.")],
) -> None:
    """Mark an item disputed by the person it is about: every view of it says so.

    Every view shows the note until the agency that sent it corrects it (a new version)
    or the dispute is settled."""
    account = _dpo(by)
    engine = migrated_engine()
    if event not in ConsentStore(engine).events([event]):
        raise typer.BadParameter(f"no item {event} is held", param_hint="EVENT")
    if len(note.strip()) < MIN_REASON:
        raise typer.BadParameter("say what they dispute, in a sentence", param_hint="--note")
    _recorded(account, Action.ITEM_DISPUTED, "disputed by the data subject", event_ids=(event,))
    Markers(engine).dispute(event, account.username, note, datetime.now(UTC))
    console.print(f"{event} is marked disputed; every view of it says so.", highlight=False)


def _who(account: Account) -> Who:
    return Who(account.username, account.role_name, account.acts_for or AUDITOR)


def _prove(engine: Engine, settings: BrokerSettings, removal_id: str, who: Who) -> Proof:
    """Read every table and topic for what the removal took away; record the check."""
    removed = removed_of(engine, removal_id)
    if removed is None:
        raise typer.BadParameter(f"no sweep or erasure {removal_id} on file", param_hint="REMOVAL")
    proof = Proof(removal_id)
    bootstrap = require_bootstrap(settings)
    with Progress(transient=True, console=console) as progress:
        progress.add_task("Reading every table", total=None)
        check_tables(engine, removed, proof)
        progress.add_task("Reading every topic", total=None)
        vault = DataKeyStore(engine)
        asyncio.run(check_topics(bootstrap, settings, vault, removed, proof, datetime.now(UTC)))
    record_read(
        AuditRecord(
            action=Action.REMOVAL_PROVED,
            actor=who.username,
            role=who.role,
            agency=who.agency,
            purpose=f"proof of {removal_id}: "
            + ("nothing readable" if proof.ok else "still readable"),
            bases=(removal_id, f"{len(proof.readable)} readable", f"{len(proof.findings)} found"),
            at=datetime.now(UTC),
        )
    )
    return proof


def _say_proof(proof: Proof) -> None:
    console.print(
        f"Proof: {proof.rows} rows in {proof.tables} tables and {proof.messages} messages on "
        f"{proof.topics} topics read.",
        highlight=False,
    )
    if proof.ok:
        console.print("Nothing that was removed can be read.", highlight=False)
    else:
        console.print(
            f"[bold red]{len(proof.readable)} place(s) can still be read:[/]", highlight=False
        )
        for finding in proof.readable[:20]:
            console.print(f"  {finding.place}: {finding.what}", highlight=False)
    later = [f for f in proof.findings if f.until is not None]
    if later:
        last = max(f.until for f in later if f.until is not None)
        console.print(
            f"{len(later)} message(s) on topics that keep records only for a while (the "
            f"agencies' inbound topics, ehx.linked, the quarantine) still carry it; their "
            f"retention deletes the last by {last:%d %b %Y}.",
            highlight=False,
        )


def _proved(
    engine: Engine, removal_id: str, who: Who, report: dict[str, Any], done: str, as_json: bool
) -> None:
    """Cut the transit topics at what every service has read, prove the removal just
    made, say it all, and exit 1 if anything can still be read."""
    settings = BrokerSettings()
    cut = asyncio.run(cut_transit(require_bootstrap(settings), settings))
    proof = _prove(engine, settings, removal_id, who)
    transit = {"cut": cut.cut, "refused": cut.refused}
    if as_json:
        sys.stdout.write(
            json.dumps(report | {"transit": transit, "proof": proof.as_dict()}, indent=2) + "\n"
        )
    else:
        console.print(done, highlight=False)
        console.print(
            cut.refused
            or f"The inbound and linked topics were cut at what every service has read "
            f"({len(cut.cut)} partitions).",
            highlight=False,
        )
        _say_proof(proof)
    raise typer.Exit(0 if proof.ok else 1)


@app.command("sweep")
def sweep_command(
    by: DpoOpt,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Remove what the retention schedule says has been kept long enough; prove it.

    The schedule is the policy's ``retention``.
    Expired items leave recipients' timelines, Encompass notices, alert history and the
    intake, linker and consent stores; the keys of every expired period are destroyed, so
    copies on topics and in stores that cannot be reached are unreadable; each period's
    removal goes on the audit ledger by id. Run it on a schedule (daily is fine: it does
    nothing when nothing has expired). Interrupted, run it again: it finishes the same
    sweep without removing anything twice.
    """
    account = _dpo(by)
    who = _who(account)
    engine = migrated_engine()
    report = sweep(engine, load_policy().retention, who, datetime.now(UTC), record_read)
    _proved(
        engine,
        report.removal_id,
        who,
        report.as_dict(),
        f"{'Resumed' if report.resumed else 'Swept'} {report.removal_id}: {report.entries} "
        f"timeline entries and {report.events} events removed, {report.keys} keys destroyed "
        f"({', '.join(report.periods) or 'no period had expired'}).",
        as_json,
    )


@app.command("erase")
def erase_command(
    person: Annotated[str, typer.Argument(help="The person's id (p...): ehx find gives it.")],
    by: DpoOpt,
    reason: Annotated[
        str, typer.Option(help="Why, as your decision records it (the request, the ground).")
    ],
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Erase a person's information where the law allows it (Art. 17); prove it.

    Refused, saying why, while the MASH is screening a concern about the family, while a
    case is open, while an override that shared about them awaits review, or while a
    school has not acknowledged an Operation Encompass notice about them. Otherwise what
    is about them alone goes from every store, they are taken out of what is also about
    others (a child's record stays), and every key held for them is destroyed. The ledger
    keeps ids and salted hashes, so it still verifies and the proof can be run again.
    """
    account = _dpo(by)
    if len(reason.strip()) < MIN_REASON:
        raise typer.BadParameter("say why, in a sentence", param_hint="--reason")
    who = _who(account)
    engine = migrated_engine()
    try:
        report = erase(
            engine,
            person,
            who,
            reason,
            load_policy().erasure,
            datetime.now(UTC),
            record_read,
        )
    except UnknownPerson as exc:
        raise typer.BadParameter(str(exc), param_hint="PERSON") from None
    except ErasureRefused as exc:
        console.print(f"[bold]Refused[/]: {exc}", highlight=False)
        raise typer.Exit(3) from None
    _proved(
        engine,
        report.removal_id,
        who,
        report.as_dict(),
        f"Erased {person} ({report.removal_id}): {report.events_removed} events about them "
        f"alone removed, taken out of {report.events_redacted} events about others, "
        f"{report.keys} keys destroyed.",
        as_json,
    )


@app.command("proof")
def proof_command(
    removal: Annotated[
        str, typer.Argument(help="The sweep or erasure's id (sweep-..., erasure-p...).")
    ],
    by: DpoOpt,
    as_json: Annotated[bool, typer.Option("--json", help="Print the proof as JSON.")] = False,
) -> None:
    """Check again that what a sweep or an erasure removed cannot be read.

    Reads every table, every message on every topic, every sealed box whose key is still
    held. Exits 1 if anything can be read."""
    who = _who(_dpo(by))
    proof = _prove(migrated_engine(), BrokerSettings(), removal, who)
    if as_json:
        sys.stdout.write(json.dumps(proof.as_dict(), indent=2) + "\n")
    else:
        _say_proof(proof)
    raise typer.Exit(0 if proof.ok else 1)
