"""``ehx audit``: check the ledger has not been altered, and ask it who saw what.

``verify`` and ``checkpoints`` read the database only. The queries (``who-saw``,
``overrides``, ``received``, ``export``) are themselves recorded on ``ehx.audit`` before
they answer, so they need a running broker (``ehx up``) and ``--by``.
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from ehx.audit import queries
from ehx.audit.access import AccessLog
from ehx.audit.checkpoints import CheckpointExport
from ehx.audit.ledger import AuditLedger
from ehx.audit.verify import verify
from ehx.database import migrate, open_engine
from ehx.organisations.people import AUDITOR
from ehx.reading_cli import record_read, staff
from ehx.schemas import KeyStore
from ehx.schemas.audit import Action

app = typer.Typer(
    help="The audit ledger: verify it, and ask who saw what, when and on what basis.",
    no_args_is_help=True,
)
console = Console()
JsonOption = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]
ByOpt = Annotated[
    str,
    typer.Option(
        "--by", help="Your auditor's or DPO's account (ehx people); your query is audited too."
    ),
]
FromOpt = Annotated[datetime | None, typer.Option("--from", help="From this date or instant.")]
ToOpt = Annotated[datetime | None, typer.Option("--to", help="Up to this date or instant.")]


def _ledger() -> AuditLedger:
    engine = open_engine()
    migrate(engine)
    return AuditLedger(engine)


def _aware(moment: datetime | None) -> datetime | None:
    return moment.replace(tzinfo=moment.tzinfo or UTC) if moment else None


def _print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")


def _audited(
    by: str, what: str, subject: str | None = None, action: str = Action.AUDIT_READ
) -> None:
    staff(by, AUDITOR)  # a live auditor's or DPO's account, before anything is read
    record_read(queries.auditors_query(by, what, subject, action))


@app.command("verify")
def verify_command(
    against: Annotated[
        Path | None,
        typer.Option(
            help="A checkpoint export you kept earlier: prove this ledger extends it.",
            exists=True,
            dir_okay=False,
        ),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Check the hash chain and every signed checkpoint; exit 1 naming the first bad entry.

    Finds an entry altered, removed, reordered or inserted; a tail cut off; a chain
    recomputed after a change (by the checkpoints); and, with --against, a ledger that
    has forked from the one you kept.
    """
    ledger = _ledger()
    kept = CheckpointExport.model_validate_json(against.read_bytes()) if against else None
    verdict = verify(
        ledger.entries(), ledger.checkpoints(), KeyStore.from_settings().ledger_public_key(), kept
    )
    if as_json:
        _print_json(verdict.as_dict())
    elif verdict.ok:
        console.print(
            f"[green]The ledger holds[/green]: {verdict.entries} entries chained, "
            f"{verdict.checkpoints} checkpoints"
            + (f", {verdict.kept} kept checkpoints" if kept else "")
            + " match."
        )
    else:
        console.print(f"[red]The ledger does not hold[/red] ({verdict.entries} entries checked):")
        for problem in verdict.problems:
            console.print(f"  {problem}", soft_wrap=True, highlight=False)
    if not verdict.ok:
        raise typer.Exit(1)


@app.command("checkpoints")
def checkpoints_command(
    export: Annotated[
        Path | None, typer.Option(help="Write them, with the ledger's public key, to this file.")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """The signed checkpoints; --export FILE writes the copy a partner agency keeps."""
    ledger = _ledger()
    points = ledger.checkpoints()
    if export is not None:
        data = CheckpointExport.of(KeyStore.from_settings().ledger_public_key(), points)
        export.write_text(data.model_dump_json(indent=2))
        console.print(f"{len(points)} checkpoints written to {export}.")
        return
    if as_json:
        _print_json([p.model_dump(mode="json") for p in points])
        return
    table = Table("entry", "head hash", "signed at", "key", title=f"{len(points)} checkpoints")
    for p in points:
        table.add_row(str(p.seq), p.head_hash[:16] + "…", p.at.isoformat()[:19], p.key_id)
    console.print(table)


def _show(rows: list[dict[str, Any]], as_json: bool, title: str, *extra: str) -> None:
    """A query's answer: JSON for machines, else a table."""
    if as_json:
        _print_json(rows)
    else:
        _table(rows, title, *extra)


def _table(rows: list[dict[str, Any]], title: str, *extra: str) -> None:
    if not rows:
        console.print(f"{title}: none.")
        return
    table = Table("entry", "when", "who", "role", "as", *extra, "basis", title=title)
    for row in rows:
        # The rule or consent record; the lawful basis in words is in --json.
        basis = row["bases"][0] if row["bases"] else row["purpose"]
        table.add_row(
            str(row["seq"]),
            row["at"][:16].replace("T", " "),
            row["actor"],
            row["role"],
            row["agency"],
            *(str(row.get(e, "")) for e in extra),
            basis,
        )
    console.print(table)


@app.command("who-saw")
def who_saw(
    person: Annotated[str, typer.Argument(help="A person id (p...) or a family id (f...).")],
    by: ByOpt,
    since: FromOpt = None,
    until: ToOpt = None,
    as_json: JsonOption = False,
) -> None:
    """Everyone who viewed information about a person, and every recipient it was sent to."""
    ledger = _ledger()
    _audited(by, "who-saw", person)
    _show(
        queries.who_saw(ledger, person, _aware(since), _aware(until)),
        as_json,
        f"Who saw {person}",
        "seen",
    )


@app.command("overrides")
def overrides(
    by: ByOpt, since: FromOpt = None, until: ToOpt = None, as_json: JsonOption = False
) -> None:
    """Every significant-harm override (rule, lawful basis, evidence) and its reviews."""
    ledger = _ledger()
    _audited(by, "overrides")
    rows = queries.overrides(ledger, _aware(since), _aware(until))
    for row in rows:
        row["reviewed"] = (
            ", ".join(f"{r['outcome']} by {r['by']}" for r in row["reviews"]) or "not yet"
        )
    _show(rows, as_json, "Significant-harm overrides", "reviewed")


@app.command("received")
def received(
    agency: Annotated[str, typer.Option(help="The recipient: mash, early_help, police, ...")],
    by: ByOpt,
    since: FromOpt = None,
    until: ToOpt = None,
    as_json: JsonOption = False,
) -> None:
    """What one recipient was sent (and what was taken back), with the basis of each."""
    ledger = _ledger()
    _audited(by, f"received by {agency}")
    rows = queries.received(ledger, agency, _aware(since), _aware(until))
    _show(rows, as_json, f"Received by {agency}", "action")


@app.command("export")
def export(
    out: Annotated[Path, typer.Argument(help="The file to write.")],
    by: ByOpt,
    format: Annotated[str, typer.Option(help="fhir (a Bundle of AuditEvent) or csv.")] = "fhir",
    subject: Annotated[str | None, typer.Option(help="Only entries about this person.")] = None,
    since: FromOpt = None,
    until: ToOpt = None,
) -> None:
    """Export ledger entries as FHIR R4 AuditEvent resources or as CSV (the export is audited)."""
    if format not in ("fhir", "csv"):
        raise typer.BadParameter("fhir or csv", param_hint="--format")
    ledger = _ledger()
    _audited(by, f"export as {format}", subject, Action.AUDIT_EXPORTED)
    found = queries.entries(ledger, _aware(since), _aware(until), subject)
    if format == "csv":
        out.write_text(queries.as_csv(found))
    else:
        out.write_text(json.dumps(queries.as_fhir_bundle(found), indent=2))
    console.print(f"{len(found)} entries written to {out} ({format}).")


@app.command("access")
def access(
    agency: Annotated[
        str | None, typer.Option(help="Only views of this agency's records, or by it.")
    ] = None,
    person: Annotated[str | None, typer.Option(help="Only about this child.")] = None,
    as_json: JsonOption = False,
) -> None:
    """Access notifications: records of a child on a protection plan viewed by another agency."""
    engine = open_engine()
    migrate(engine)
    notices = AccessLog(engine).history(agency=agency, person_id=person)
    if as_json:
        _print_json([n.as_dict() for n in notices])
        return
    if not notices:
        console.print("No access notifications.")
        return
    table = Table("entry", "when", "child", "records of", "viewed by", "who", "why", title="Access")
    for n in notices:
        table.add_row(
            str(n.seq),
            n.at.isoformat()[:19],
            n.person_id,
            n.owner,
            n.viewer,
            f"{n.actor} ({n.role})",
            n.purpose,
        )
    console.print(table)


@app.command("token")
def token(
    label: Annotated[str, typer.Option(help="Who holds it, for the record.")] = "auditor",
) -> None:
    """Issue an auditor's API token (reads /v1/audit/*, nothing else); shown once."""
    from ehx.api import AgencyCredentials

    engine = open_engine()
    migrate(engine)
    console.print(AgencyCredentials(engine).issue(AUDITOR, label), soft_wrap=True, highlight=False)
