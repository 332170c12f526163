"""``ehx links``: the clerical review queue for identity links, people's merges and
splits, and families' histories.

``review`` and ``decide`` work the queue; ``person`` shows which ids make one person and
what joined them; ``family`` shows who was in a family when, and where they lived;
``merge`` and ``split`` correct the linker. Each decision is an event on ehx.links: the
linker applies it and relinks every event already sent that it moves.
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

from ehx.broker.publishing import KafkaPublisher
from ehx.broker.settings import BrokerSettings
from ehx.database import migrate, open_engine
from ehx.linker.model import LinkModel
from ehx.linker.people import (
    composition,
    family_history,
    merge_decision,
    people_in_reviews,
    split_decision,
)
from ehx.linker.service import review_message
from ehx.linker.store import LinkStore
from ehx.organisations.people import AUDITOR, Role
from ehx.reading_cli import operator_read, record_read, staff
from ehx.runtime import require_bootstrap
from ehx.schemas.audit import Action
from ehx.schemas.links import ReviewDecision
from ehx.schemas.vocabulary import Recipient

#: Identity links are the MASH's to decide.
MASH = Recipient.MASH.value

console = Console()


def _store() -> LinkStore:
    engine = open_engine()
    migrate(engine)
    return LinkStore(engine)


def stored_model() -> LinkModel:
    """The model the linker weighs pairs with: the last one trained, or the hand-set one."""
    return _store().latest_model()


def _who(record: dict[str, Any]) -> str:
    if not record:
        return "?"
    born = record.get("date_of_birth") or "no date of birth"
    return f"{record['given_name']} {record['family_name']}, {born}, {_postcode(record)}"


def review(
    show_all: Annotated[bool, typer.Option("--all", help="Include decided pairs.")] = False,
    by: Annotated[
        str | None, typer.Option("--by", help="Your id (recorded for audit); default: you.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")] = False,
) -> None:
    """The pairs the linker was unsure of (between its two thresholds), strongest first,
    each with the evidence for (+) and against (-) field by field.

    Decide one with `ehx links decide REVIEW --same` or `--different`.
    """
    rows = _store().reviews(open_only=not show_all)
    who = people_in_reviews(rows)
    record_read(operator_read(Action.LINKS_READ, by, "link review queue", subject_ids=who))
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
    by: Annotated[str, typer.Option("--by", help="Your MASH account (recorded, and audited).")],
    reason: Annotated[str, typer.Option(help="Why: what settled it.")],
    same: Annotated[
        bool | None, typer.Option("--same/--different", help="One person, or two.")
    ] = None,
) -> None:
    """Record a reviewer's decision as an event on ehx.links; the linker applies it.

    --same merges the two people: events already sent about either are relinked to one
    person and family. --different keeps them apart (and splits them if they were
    merged). Needs a running broker (`ehx up`).
    """
    if same is None:
        raise typer.BadParameter("say --same or --different")
    staff(by, MASH)
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
    _send(decision)
    console.print(f"{review_id}: {'same person' if same else 'different people'} ({by}).")


def _send(decision: ReviewDecision) -> None:
    async def send() -> None:
        settings = BrokerSettings()
        async with KafkaPublisher(require_bootstrap(settings), settings) as publisher:
            await publisher.publish([review_message(decision)])

    asyncio.run(send())


def person(
    person_id: Annotated[str, typer.Argument(help="A person id, as timelines show it.")],
    by: Annotated[
        str | None, typer.Option("--by", help="Your id (recorded for audit); default: you.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")] = False,
) -> None:
    """The ids that make this person now, each with its own records, and what joined them.

    A record linked by a probabilistic match keeps an id of its own, merged in: if the
    match was wrong, `ehx links split THAT_ID` takes exactly it out again.
    """
    found = composition(_store(), person_id)
    if found is None:
        raise typer.BadParameter(f"the linker has no person {person_id!r}")
    record_read(operator_read(Action.LINKS_READ, by, "who a person is", subject_ids=(person_id,)))
    if as_json:
        sys.stdout.write(json.dumps(found, indent=2, default=str) + "\n")
        return
    table = Table("id", "merged into", "record", "role", "how linked", title=found["person_id"])
    for member in found["members"]:
        for record in member["records"]:
            how = record["band"] + (f" ({record['weight']:.1f} bits)" if record["weight"] else "")
            table.add_row(
                member["id"], member["merged_into"] or "-", _who(record), record["role"], how
            )
    console.print(table)
    for entry in found["history"]:
        who = f" by {entry['decided_by']}: {entry['reason']}" if entry["decided_by"] else ""
        console.print(
            f"  {entry['at']:%Y-%m-%d %H:%M} {entry['op']} {entry['a']} {entry['b']} "
            f"({entry['cause']}){who}"
        )


def family(
    family_id: Annotated[str, typer.Argument(help="A family id, as timelines show it.")],
    by: Annotated[
        str | None, typer.Option("--by", help="Your id (recorded for audit); default: you.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")] = False,
) -> None:
    """Who has been in this family and when, where each lived from when to when, and the
    changes in order: someone joining, someone moving to another household.

    A family id never changes and a family only grows, so a separation, a new partner or
    a child moving to relatives shows here rather than as a new family.
    """
    found = family_history(_store(), family_id)
    if found is None:
        raise typer.BadParameter(f"the linker has no family {family_id!r}")
    record_read(operator_read(Action.LINKS_READ, by, "a family's members", family_id=family_id))
    if as_json:
        sys.stdout.write(json.dumps(found, indent=2, default=str) + "\n")
        return
    table = Table("person", "roles", "first seen", "last seen", "households", title=family_id)
    withheld = found.get("addresses_withheld")
    for member in found["members"]:
        stays = "; ".join(
            f"{h['household']} {h['since']:%Y-%m-%d}–{h['until']:%Y-%m-%d}"
            for h in member["households"]
        )
        table.add_row(
            member["person_id"],
            ", ".join(member["roles"]),
            f"{member['first_seen']:%Y-%m-%d}",
            f"{member['last_seen']:%Y-%m-%d}",
            f"withheld: {withheld}" if withheld else stays or "-",
        )
    console.print(table)
    for change in found["changes"]:
        where = change.get("household") or "no address"
        moved = f" from {change['left']}" if change["change"] == "moved" else ""
        console.print(
            f"  {change['at']:%Y-%m-%d} {change['person_id']} {change['change']}{moved} "
            f"({where}; {change['role']})"
        )


def merge(
    person_id: Annotated[str, typer.Argument(help="The person who stays.")],
    other_id: Annotated[str, typer.Argument(help="The person who is the same one.")],
    by: Annotated[str, typer.Option("--by", help="Your MASH account (recorded, and audited).")],
    reason: Annotated[str, typer.Option(help="Why: what settled it.")],
) -> None:
    """Two people are one. Events already sent about either are relinked to one person
    and family; recipients get them again under it. Needs a running broker (`ehx up`)."""
    staff(by, MASH)
    try:
        decision = merge_decision(_store(), person_id, other_id, by, reason)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    _send(decision)
    console.print(f"{other_id} joins {person_id} ({by}); the linker relinks what was sent.")


def split(
    person_id: Annotated[
        str, typer.Argument(help="The id wrongly merged (see `ehx links person`).")
    ],
    by: Annotated[
        str,
        typer.Option(
            "--by",
            help="Your MASH account, or the data protection officer's (a link the person "
            "it is about disputes: rectification). Recorded, and audited.",
        ),
    ],
    reason: Annotated[str, typer.Option(help="Why: what settled it.")],
) -> None:
    """Undo a wrong merge: PERSON_ID is its own person again, kept apart from the other.

    Every recipient that got its events under the merged identity gets a retraction;
    the events are then decided afresh under the right person and family.
    Needs a running broker (`ehx up`).
    """
    account = staff(by, MASH, AUDITOR)
    if account.acts_for == AUDITOR and account.role is not Role.DPO:
        raise typer.BadParameter(
            "a split is the MASH's, or the data protection officer's: an auditor's account "
            "reads the audit only",
            param_hint="--by",
        )
    try:
        decision = split_decision(_store(), person_id, by, reason)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    _send(decision)
    console.print(f"{person_id} split from {decision.candidate_id} ({by}); the linker relinks.")


def _postcode(record: dict[str, Any]) -> str:
    if record.get("address_withheld"):
        return f"postcode withheld: {record['address_withheld']}"
    return str(record.get("postcode") or "-")


def train(
    by: Annotated[str, typer.Option(help="Your account (the MASH's): recorded with the model.")],
    seed: Annotated[int, typer.Option(help="Seed for the pairs sampled.")] = 0,
    as_json: Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")] = False,
) -> None:
    """Learn the match model from the records on file, and store it for the linker.

    m (how often one person's records agree at each level of each field) is learnt by
    expectation maximisation on the pairs blocking puts together, u (how often
    different people's do) on random pairs, as Splink does; no labels are needed. It also
    counts how common each name is, so a shared common name (Khan, Begum, Smith) weighs
    less than a rare one. The linker weighs new records with it from its next start;
    links already made stay as they are. Run it again as records accumulate, and check
    the result on a labelled sample with `ehx links evaluate --records`.
    """
    from ehx.linker.training import train as learn

    account = staff(by, MASH)
    store = _store()
    records = [m.record for m in store.mentions()]
    if len(records) < 1000:
        console.print(
            f"Refused: {len(records):,} records on file; a model needs 1,000 at least "
            "to learn from. The linker keeps the model it has."
        )
        raise typer.Exit(2)
    with console.status(f"Learning from {len(records):,} records..."):
        learnt = learn(records, seed=seed)
    model_id = store.save_model(learnt.model, account.username, datetime.now(UTC))
    if as_json:
        body = learnt.model.as_dict()
        body["frequencies"] = {f: len(v) for f, v in body["frequencies"].items()}
        sys.stdout.write(json.dumps({"model_id": model_id, **body}, indent=2) + "\n")
        return
    table = Table("field", "level", "m", "u", "weight (bits)", title="The learnt model")
    for field, level, m, u, weight in learnt.model.table():
        table.add_row(field, level, f"{m:.4f}", f"{u:.6f}", f"{weight:+.1f}")
    console.print(table)
    policy = learnt.model.policy
    listed = {f: len(v) for f, v in learnt.model.frequencies.items()}
    console.print(
        f"Model {model_id}, {learnt.model.source}"
        f"{'' if learnt.converged else ' (EM had not settled: run it again with more records)'}. "
        f"Term frequencies for {listed.get('given_name', 0):,} given and "
        f"{listed.get('family_name', 0):,} family names. Links at {policy.upper:g} bits, "
        f"review from {policy.lower:g}"
        + (
            f", both rising as the people on file pass {policy.reference_people:,}"
            if policy.reference_people
            else ""
        )
        + ". The linker uses it from its next start."
    )
