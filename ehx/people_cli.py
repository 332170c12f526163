"""``ehx people``: the accounts people sign in to the console with."""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from ehx.database import migrate, open_engine
from ehx.organisations.people import Accounts, Role
from ehx.schemas.vocabulary import Recipient

app = typer.Typer(
    help="People's accounts: MASH screeners and managers, practitioners, the Encompass "
    "officer, auditors, administrators. Readers and actors everywhere are named by them.",
    no_args_is_help=True,
)
console = Console()


def _accounts() -> Accounts:
    engine = open_engine()
    migrate(engine)
    return Accounts(engine)


@app.command("add")
def add(
    username: Annotated[str, typer.Argument(help="The name they sign in with.")],
    role: Annotated[
        Role,
        typer.Option(
            help="screener (MASH), manager (MASH: closes significant-harm alerts, reviews "
            "overrides), practitioner, encompass_officer (the local authority's Operation "
            "Encompass officer), auditor, dpo (data protection officer) or admin."
        ),
    ],
    view: Annotated[
        Recipient | None,
        typer.Option(
            help="A practitioner's view: one of the recipients, e.g. schools or early_help."
        ),
    ] = None,
    org: Annotated[
        str | None,
        typer.Option(
            "--org",
            help="The organisation they work for, by its code in the directory (a school's "
            "URN, as school:103512 or 103512): a school's DSL reads only its own pupils.",
        ),
    ] = None,
    password_stdin: Annotated[
        bool, typer.Option(help="Read the password from standard input (for scripts).")
    ] = False,
) -> None:
    """Add an account. The password (12 characters or more) is asked for, never echoed,
    and stored only as an Argon2id hash.

    A screener reads the MASH view and screens alerts; a manager does too, and alone
    closes a significant-harm alert with no further action or countersigns or reverses
    an override (never their own assertion's); a practitioner reads one organisation's
    view (a school's practitioner also acknowledges its pupils' Operation Encompass
    notifications); the local authority's Encompass officer works the notifications no
    school has met; an auditor reads the audit pages, and so does the data protection
    officer, who also withdraws consent; an administrator sees the accounts.

    The name is who they are wherever they act: the API's reader= and by, and the
    command line's --by, must name a live account of the organisation acting.
    """
    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    code = org.partition(":")[2] if org and ":" in org else org
    account = _accounts().add(username, role, password, view, code)
    where = f" ({account.view.value} view)" if account.view else ""
    if account.organisation:
        where += f", {account.organisation}"
    console.print(f"{account.username}: {account.role.value}{where}.")


@app.command("list")
def list_accounts(
    as_json: Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")] = False,
) -> None:
    """Every account, its role and view, and whether it is disabled."""
    rows = _accounts().all()
    if as_json:
        sys.stdout.write(json.dumps(rows, indent=2, default=str) + "\n")
        return
    table = Table("user", "role", "view", "created", "disabled", title="Console accounts")
    for row in rows:
        table.add_row(
            str(row["username"]),
            str(row["role"]),
            str(row["view"] or ""),
            str(row["created_at"])[:16],
            str(row["disabled_at"] or "")[:16],
        )
    console.print(table)


@app.command("disable")
def disable(username: Annotated[str, typer.Argument()]) -> None:
    """Disable an account: its sessions end at their next request."""
    if not _accounts().disable(username):
        raise typer.BadParameter(f"no account called {username!r}")
    console.print(f"{username}: disabled.")
