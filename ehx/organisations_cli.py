"""``ehx organisations``: the directory of organisations a council loads."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from ehx.database import migrate, open_engine
from ehx.organisations.directory import Kind, read_directory
from ehx.organisations.store import OrganisationStore

app = typer.Typer(
    help="The directory of organisations: schools, NHS trusts, housing providers, the "
    "police, the MASH, the early help hub and the local authority.",
    no_args_is_help=True,
)
console = Console()
errors = Console(stderr=True)
JsonOption = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]


def _store() -> OrganisationStore:
    engine = open_engine()
    migrate(engine)
    return OrganisationStore(engine)


@app.command()
def load(
    file: Annotated[
        Path, typer.Argument(help="A directory CSV, or a DfE GIAS schools extract.", exists=True)
    ],
    as_json: JsonOption = False,
) -> None:
    """Load a directory: new organisations are added, changed ones get a new version.

    The file is the exchange's own (kind,code,name,key_adult,deputy,calendar) or the
    DfE's "Get Information About Schools" extract (URN, EstablishmentName, ...; closed
    schools are left out). Loading the same file again changes nothing. A file with any
    problem is refused whole, each problem with its line: nothing is half-loaded.
    """
    found, problems = read_directory(file.read_text(encoding="utf-8-sig"))
    if problems:
        if as_json:
            sys.stdout.write(
                json.dumps({"loaded": False, "problems": [p.__dict__ for p in problems]}) + "\n"
            )
        else:
            errors.print(f"[red]{file.name} was not loaded: {len(problems)} problem(s)[/red]")
            for problem in problems:
                errors.print(f"  line {problem.line}: {problem.reason}")
        raise typer.Exit(3)
    loaded = _store().load(found, datetime.now(UTC))
    if as_json:
        sys.stdout.write(json.dumps({"loaded": True, **loaded.as_dict()}) + "\n")
        return
    console.print(
        f"{file.name}: {loaded.added} added, {loaded.changed} changed (a new version each), "
        f"{loaded.unchanged} unchanged."
    )


@app.command("list")
def list_(
    kind: Annotated[Kind | None, typer.Option(help="Only this kind.")] = None,
    as_json: JsonOption = False,
) -> None:
    """The organisations in the directory, at their latest version."""
    found = _store().current(kind)
    if as_json:
        sys.stdout.write(
            json.dumps([{**o.__dict__, "kind": o.kind.value, "ref": o.ref} for o in found]) + "\n"
        )
        return
    table = Table("organisation", "name", "key adult", "deputy", title="Organisations")
    for o in found:
        table.add_row(o.ref, o.name, o.key_adult, o.deputy)
    console.print(table)


@app.command()
def legacy(
    apply: Annotated[
        bool, typer.Option("--apply", help="Move the entries the roll places (else report).")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """What an exchange set up before organisations still holds type-wide, and where it goes.

    Tokens and console accounts of schools, trusts and landlords that name no
    organisation (they read nothing until reissued with --org); timeline entries a whole
    kind received, each moved (with --apply) to the one organisation the roll places its
    people with, or reported with the reason it cannot be.
    """
    from ehx.timeline.legacy import map_legacy

    engine = open_engine()
    migrate(engine)
    unbound = OrganisationStore(engine).unbound()
    report = map_legacy(engine, apply=apply)
    if as_json:
        out = {"unbound": unbound, "applied": apply, **report.as_dict()}
        sys.stdout.write(json.dumps(out) + "\n")
        return
    for row in unbound:
        console.print(
            f"{row['what']} {row['name']} ({row['kind']}) names no organisation: {row['fix']}"
        )
    verb = "moved" if apply else "would move"
    console.print(f"Timeline entries: {len(report.moved)} {verb} to their organisation.")
    for kind, event_id, to in report.moved:
        console.print(f"  {kind} {event_id} -> {to}")
    if report.kept:
        console.print(f"{len(report.kept)} not moved:")
        for kind, event_id, why in report.kept:
            console.print(f"  {kind} {event_id}: {why}")
    if report.moved and not apply:
        console.print("Run again with --apply to move them.")
