"""``ehx agencies``: agency systems' tokens for the HTTP API: issue, list, revoke."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy import Engine

from ehx.api import AgencyCredentials
from ehx.database import migrate, open_engine
from ehx.schemas import ExchangeError
from ehx.schemas.vocabulary import Recipient

app = typer.Typer(help="Agency systems' credentials for the HTTP API.", no_args_is_help=True)
console = Console()
errors = Console(stderr=True)
JsonOption = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]


@app.command("token")
def agencies_token(
    agency: Annotated[
        Recipient, typer.Argument(help="The agency (or mash, early_help) the token acts as.")
    ],
    label: Annotated[str, typer.Option(help="Which system holds it, for the record.")] = "",
    days: Annotated[int, typer.Option(min=1, max=730, help="Days until it expires.")] = 365,
    org: Annotated[
        str | None,
        typer.Option(
            "--org",
            help="The organisation the token acts as, by its code in the directory (a "
            "school's URN, a trust's ODS code). A school's notifications and records are "
            "its own only with this.",
        ),
    ] = None,
) -> None:
    """Issue an API token for an agency's system; it is shown once and stored hashed.

    An agency's token submits records only as that agency, and records consent in its
    name; the MASH's and the early help hub's tokens record consent and assertions.
    It expires after --days; `ehx agencies list` shows each token's id and state, and
    `ehx agencies revoke ID` ends one at once.
    """
    try:
        label = label or f"{agency.value} system"
        token = AgencyCredentials(_credentials_engine()).issue(agency, label, days, org)
    except ExchangeError as exc:
        errors.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None
    console.print(token, soft_wrap=True, highlight=False)


def _credentials_engine() -> Engine:
    engine = open_engine()
    migrate(engine)
    return engine


@app.command("list")
def agencies_list(as_json: JsonOption = False) -> None:
    """Every API token issued: id, holder, label, expiry, state.

    A token is live, expired or revoked; the token itself is never shown again, its id
    (the start of its hash) names it for `ehx agencies revoke`."""
    now = datetime.now(UTC)
    found = [c.as_dict(now) for c in AgencyCredentials(_credentials_engine()).listed()]
    if as_json:
        sys.stdout.write(json.dumps(found, indent=2) + "\n")
        return
    table = Table(
        "id", "holder", "organisation", "label", "created", "expires", "state", title="API tokens"
    )
    for c in found:
        table.add_row(
            c["id"],
            c["holder"],
            c["organisation"] or "(whole kind)",
            c["label"],
            (c["created_at"] or "")[:10],
            (c["expires_at"] or "never")[:10],
            c["state"],
        )
    console.print(table)


@app.command("revoke")
def agencies_revoke(
    token: Annotated[
        str,
        typer.Argument(
            help="The token's id from `ehx agencies list`, or a label: every live token "
            "with that label is revoked."
        ),
    ],
) -> None:
    """End a token now, without needing the token itself."""
    revoked = AgencyCredentials(_credentials_engine()).revoke_by(token)
    if not revoked:
        errors.print(
            f"No live token has the id or label {token!r}: `ehx agencies list` shows them."
        )
        raise typer.Exit(1)
    for credential in revoked:
        console.print(f"Revoked {credential.token_id} ({credential.holder}, {credential.label})")
