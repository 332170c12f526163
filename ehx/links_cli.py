"""``ehx links review`` and ``ehx links decide``: the clerical review queue for identity links."""

from __future__ import annotations

import asyncio
import json
import sys
from datetime import UTC, datetime
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from adapters import KafkaPublisher
from broker.runtime import require_bootstrap
from broker.settings import BrokerSettings
from database import migrate, open_engine
from linker import LinkStore
from linker.service import review_message
from schemas.links import ReviewDecision

console = Console()


def _store() -> LinkStore:
    engine = open_engine()
    migrate(engine)
    return LinkStore(engine)


def _who(record: dict[str, Any]) -> str:
    if not record:
        return "?"
    born = record.get("date_of_birth") or "no date of birth"
    return (
        f"{record['given_name']} {record['family_name']}, {born}, {record.get('postcode') or '-'}"
    )


def review(
    show_all: Annotated[bool, typer.Option("--all", help="Include decided pairs.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")] = False,
) -> None:
    """The pairs the linker was unsure of (between its two thresholds), strongest first,
    each with the evidence for (+) and against (-) field by field.

    Decide one with `ehx links decide REVIEW --same` or `--different`.
    """
    rows = _store().reviews(open_only=not show_all)
    if as_json:
        sys.stdout.write(json.dumps(rows, indent=2, default=str) + "\n")
        return
    if not rows:
        console.print("No links await review.")
        return
    for row in rows:
        table = Table(
            "field", "how alike", "bits", title=f"{row['review_id']}  ({row['weight']:.1f} bits)"
        )
        for field in row["evidence"]["fields"]:
            table.add_row(field["field"], field["level"], f"{field['weight']:+.1f}")
        console.print(table)
        console.print(f"  {row['person_id']}: {_who(row['person'])}")
        console.print(f"  {row['candidate_id']}: {_who(row['candidate'])}")
        if row["decided_at"]:
            verdict = "same person" if row["same_person"] else "different people"
            console.print(f"  decided: {verdict} by {row['decided_by']} ({row['reason']})")


def decide(
    review_id: Annotated[str, typer.Argument(help="The pair, as `ehx links review` shows it.")],
    by: Annotated[str, typer.Option("--by", help="Your id (recorded, and audited).")],
    reason: Annotated[str, typer.Option(help="Why: what settled it.")],
    same: Annotated[
        bool | None, typer.Option("--same/--different", help="One person, or two.")
    ] = None,
) -> None:
    """Record a reviewer's decision as an event on ehx.links; the linker applies it.

    --same merges the two people (later records link to one person); --different keeps
    them apart. Needs a running broker (`ehx up`).
    """
    if same is None:
        raise typer.BadParameter("say --same or --different")
    row = _store().review(review_id)
    if row is None:
        raise typer.BadParameter(f"no pair {review_id!r} in the review queue")
    decision = ReviewDecision(
        review_id=review_id,
        person_id=row["person_id"],
        candidate_id=row["candidate_id"],
        same_person=same,
        decided_by=by,
        reason=reason,
        decided_at=datetime.now(UTC),
    )

    async def send() -> None:
        settings = BrokerSettings()
        async with KafkaPublisher(require_bootstrap(settings), settings) as publisher:
            await publisher.publish([review_message(decision)])

    asyncio.run(send())
    console.print(f"{review_id}: {'same person' if same else 'different people'} ({by}).")
