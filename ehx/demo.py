"""``ehx demo``: the whole exchange once, on this machine, start to finish.

It grows with the pipeline. Today: embedded broker → topics → agency adapters
(sign, publish, quarantine) → intake service (verify, store) and linker (people and
families, to ehx.linked) → consent service (a decision for every recipient of every
event; views to ehx.share.*) → timeline service (timelines, MASH alerts, Operation
Encompass notifications) → the mother's consent, recorded and then withdrawn → a MASH
worker reads the family's timeline → the audit ledger: verified, and who saw the
youngest child → a report.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from ehx.adapters.ingest import IngestSummary
from ehx.audit import queries
from ehx.audit.checkpoints import Due
from ehx.audit.verify import verify
from ehx.broker.admin import TopicState, apply_topology
from ehx.broker.auditing import audit_message
from ehx.broker.embedded import EmbeddedBroker
from ehx.broker.publishing import KafkaPublisher
from ehx.broker.settings import BrokerSettings
from ehx.consent import ConsentRecord, ConsentState, Giver, Purpose, SubjectKind
from ehx.consent.service import consent_message
from ehx.database.settings import DatabaseSettings
from ehx.ingesting import ingest_files
from ehx.linker.service import Linker
from ehx.schemas import THINK_FAMILY_PROBLEMS, Agency, Category, KeySettings, KeyStore
from ehx.schemas.vocabulary import Recipient
from ehx.services import Services, build_services
from ehx.timeline.reading import audit_record
from ehx.timeline.store import TimelineQuery

#: Schools first: their records are the rolls Operation Encompass finds each child's
#: school on (a child on no roll we know of is notified to the local authority).
EXAMPLES: dict[Agency, tuple[str, ...]] = {
    Agency.SCHOOLS: ("schools.csv",),
    Agency.HEALTH: ("health-amina-ed.json", "health-maryam-not-brought.json"),
    Agency.HOUSING: ("housing.jsonl",),
    Agency.POLICE: ("police.jsonl", "refused-police.jsonl"),
}
#: Who sent the examples that do not name their sender, as in the example directory
#: (organisations.csv): as an operator says with ``ehx ingest AGENCY FILE --org CODE``.
SENDERS = {Agency.HEALTH: "RQ3", Agency.HOUSING: "BCC", Agency.POLICE: "WMP"}


@dataclass
class DemoReport:
    bootstrap: str = ""
    topics_created: int = 0
    summaries: list[IngestSummary] = field(default_factory=list)
    received: dict[tuple[str, str], int] = field(default_factory=dict)
    published: int = 0
    stored: int = 0
    linked: int = 0
    people: int = 0
    families: int = 0
    review: int = 0
    decided: int = 0
    family: str = ""
    before_consent: dict[tuple[str, str], int] = field(default_factory=dict)
    after_consent: dict[tuple[str, str], int] = field(default_factory=dict)
    after_withdrawal: dict[tuple[str, str], int] = field(default_factory=dict)
    keys_destroyed: int = 0
    consent_id: str = ""
    alerts: list[dict[str, Any]] = field(default_factory=list)
    alert_with_consent: dict[str, Any] = field(default_factory=dict)
    notifications: list[dict[str, Any]] = field(default_factory=list)
    timeline_with_consent: int = 0
    ledger_entries: dict[str, int] = field(default_factory=dict)
    ledger_verdict: dict[str, Any] = field(default_factory=dict)
    who_saw_child: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def complete(self) -> bool:
        return (
            self.published > 0
            and self.stored == self.linked == self.decided == self.published
            and bool(self.after_withdrawal)
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "bootstrap": self.bootstrap,
            "topics_created": self.topics_created,
            "ingest": [summary.as_dict() for summary in self.summaries],
            "events_published": self.published,
            "events_verified_and_stored": self.stored,
            "events_linked": self.linked,
            "people": self.people,
            "families": self.families,
            "links_for_review": self.review,
            "events_decided": self.decided,
            "decisions": {
                stage: [
                    {"recipient": r, "outcome": o, "events": n} for (r, o), n in sorted(c.items())
                ]
                for stage, c in (
                    ("no_consent", self.before_consent),
                    ("after_consent", self.after_consent),
                    ("after_withdrawal", self.after_withdrawal),
                )
            },
            "consent_id": self.consent_id,
            "keys_destroyed": self.keys_destroyed,
            "alerts": self.alerts,
            "alert_with_consent": self.alert_with_consent,
            "encompass_notifications": self.notifications,
            "early_help_timeline_entries_with_consent": self.timeline_with_consent,
            "received_by_type": [
                {"agency": a, "event_type": t, "events": n}
                for (a, t), n in sorted(self.received.items())
            ],
            "audit_ledger": {
                "entries_by_action": self.ledger_entries,
                "verify": self.ledger_verdict,
                "who_saw_youngest_child": self.who_saw_child,
            },
            "complete": self.complete,
            "seconds": round(self.seconds, 2),
        }

    def render(self, console: Console) -> None:
        console.rule("[bold]Early Help Exchange: demo")
        console.print(
            f"Embedded broker at {self.bootstrap} (topics in memory); "
            f"{self.topics_created} topics created."
        )
        table = Table(
            "agency", "records", "accepted", "events", "refused", title="1. Agencies send records"
        )
        for summary in self.summaries:
            table.add_row(
                summary.agency,
                str(summary.records),
                str(summary.accepted),
                str(summary.events_published),
                str(len(summary.refused)),
            )
        console.print(table)
        refused = [r for s in self.summaries for r in s.refused]
        if refused:
            why = Table(
                "where", "field", "reason", title="Refused, with reasons (sent to ehx.quarantine)"
            )
            for refusal in refused:
                why.add_row(refusal.position, refusal.field or "", refusal.reason)
            console.print(why)
        received = Table(
            "agency", "event type", "events", title="2. Intake service verified and stored"
        )
        for (agency, event_type), count in sorted(self.received.items()):
            received.add_row(agency, event_type, str(count))
        console.print(received)
        console.print(
            f"3. Linker: {self.linked} events linked across agencies: {self.people} people "
            f"in {self.families} family(ies); {self.review} uncertain link(s) for review."
        )
        decisions = Table(
            "recipient",
            "no consent yet",
            "after the mother's consent",
            "after she withdraws it",
            title=f"4. Consent service: what each recipient receives about family {self.family}",
        )
        tallied = (self.before_consent, self.after_consent, self.after_withdrawal)
        # Each hub, the police, and each school, trust and landlord serving the family.
        for recipient in sorted({r for counts in tallied for r, _ in counts}):
            decisions.add_row(
                recipient,
                *(_tally(counts, recipient) for counts in tallied),
            )
        console.print(decisions)
        console.print(
            "   allow = with consent; notify = Operation Encompass to the children's school; "
            "indicator = category, date and agency only (no content); deny = nothing.\n"
            "   Schools, trusts and landlords receive as themselves (school:103512); a kind "
            "alone (schools) stands for people none of them serves yet: only a statutory "
            "notice goes there.\n"
            f"   The mother's consent ({self.consent_id}) covers her and her children, not "
            "her partner; on withdrawal "
            f"{self.keys_destroyed} recipient key(s) were destroyed, so what was shared under "
            "it can no longer be read, and only other bases remain."
        )
        alerts = Table("alert", "level", "status", "why", title="5. MASH alert queue (at the end)")
        for alert in self.alerts:
            alerts.add_row(
                alert["alert_id"], alert["level"], alert["status"], "\n".join(alert["reasons"])
            )
        console.print(alerts)
        if self.alert_with_consent:
            console.print(
                f"   While the mother's consent stood, the same alert held details "
                f"(indicators only: {self.alert_with_consent['indicators_only']}) and the "
                f"early help hub's timeline had {self.timeline_with_consent} entries."
            )
        encompass = Table(
            "child", "to", "due", "deadline", title="6. Operation Encompass notifications"
        )
        for notice in self.notifications:
            encompass.add_row(
                notice["person_id"],
                notice["addressed_to"],
                str(notice["due_at"])[:16],
                notice["deadline"],
            )
        console.print(encompass)
        ledger = Table("act", "entries", title="7. The audit ledger (ids only)")
        for action, count in sorted(self.ledger_entries.items()):
            ledger.add_row(action, str(count))
        console.print(ledger)
        holds = (
            "[green]the chain and its checkpoints hold[/]"
            if self.ledger_verdict.get("ok")
            else "[red]it does not hold[/]"
        )
        console.print(
            f"   ehx audit verify: {holds}"
            f" ({self.ledger_verdict.get('entries', 0)} entries, "
            f"{self.ledger_verdict.get('checkpoints_checked', 0)} signed checkpoints)."
        )
        seen = Table(
            "who", "as", "how", "times", "on what basis", title="8. Who saw the youngest child"
        )
        grouped: dict[tuple[str, str, str, str], int] = {}
        for row in self.who_saw_child:
            basis = row["bases"][0] if row["bases"] else row["purpose"]
            if len(basis) == 36 and basis.count("-") == 4:  # a consent record's id
                basis = f"consent {basis[:13]}…"
            key = (row["actor"], row["agency"], row["seen"], basis)
            grouped[key] = grouped.get(key, 0) + 1
        for (actor, agency, how, basis), times in grouped.items():
            seen.add_row(actor, agency, how, str(times), basis)
        console.print(seen)
        verdict = (
            "[green]every published event arrived[/]" if self.complete else "[red]events missing[/]"
        )
        console.print(
            f"{self.published} events published, {self.stored} verified and stored, "
            f"{self.linked} linked, {self.decided} decided: {verdict} "
            f"({self.seconds:.1f}s)."
        )
        console.print(
            "Next: ehx up; ehx people add YOU --role screener (--by names an account); "
            "ehx timeline FAMILY --as mash --by YOU, ehx alerts, ehx encompass, "
            "ehx audit verify; ehx people add DPO --role dpo, ehx audit who-saw PERSON --by DPO."
        )


async def _audit(
    services: Services,
    report: DemoReport,
    bootstrap: str,
    settings: BrokerSettings,
    keys: KeyStore,
    deadline: float,
) -> None:
    """An early help worker reads the family's timeline; then what the ledger says, verified."""
    timeline = services.timeline
    views = await asyncio.to_thread(
        timeline.entries, TimelineQuery(Recipient.EARLY_HELP.value, family_id=report.family)
    )
    read = audit_record(
        views,
        "ew-demo",
        "early_help_practitioner",
        Recipient.EARLY_HELP.value,
        "early help assessment",
        datetime.now(UTC),
        report.family,
    )
    async with KafkaPublisher(bootstrap, settings) as publisher:
        await publisher.publish([audit_message(read)])
    ledger = services.audit.ledger
    while time.monotonic() < deadline:
        if await asyncio.to_thread(ledger.find, actions=["timeline.read"]):
            break
        await asyncio.sleep(0.2)
    await _quiet_ledger(services, deadline)
    services.audit.checkpointer.due = Due(1, 0)  # sign the head now, as the timer would
    await asyncio.to_thread(services.audit.checkpointer.maybe, datetime.now(UTC))
    counts: dict[str, int] = {}
    for entry in await asyncio.to_thread(ledger.find):
        counts[entry.record.action] = counts.get(entry.record.action, 0) + 1
    report.ledger_entries = counts
    verdict = await asyncio.to_thread(
        verify, ledger.entries(), ledger.checkpoints(), keys.ledger_public_key()
    )
    report.ledger_verdict = verdict.as_dict()
    child = _youngest(services)
    if child:
        report.who_saw_child = await asyncio.to_thread(queries.who_saw, ledger, child)


async def _quiet_ledger(services: Services, deadline: float, still: float = 1.5) -> None:
    last, since = -1, time.monotonic()
    while time.monotonic() < deadline:
        count = await asyncio.to_thread(services.audit.ledger.count)
        if count != last:
            last, since = count, time.monotonic()
        elif time.monotonic() - since >= still:
            return
        await asyncio.sleep(0.25)


def _linker(services: Services) -> Linker:
    """The linker: the demo runs every service, all in this process."""
    assert services.linker is not None, "the demo builds every service"
    return services.linker


def _youngest(services: Services) -> str | None:
    """Maryam, the youngest of the example family."""
    identities = _linker(services).identities
    for person in identities.people():
        if any(r.given_name == "Maryam" for r in identities.records_of(person)):
            return str(person)
    return None


def _tally(counts: dict[tuple[str, str], int], recipient: str) -> str:
    parts = [f"{o} {n}" for (r, o), n in sorted(counts.items()) if r == recipient]
    return ", ".join(parts) or "-"


async def _consent_and_withdrawal(services: Services, report: DemoReport, deadline: float) -> None:
    """The mother consents for herself and her children; later she withdraws."""
    store = services.consent.store
    mother = next(
        (
            p
            for p in _linker(services).identities.people()
            if any(r.given_name == "Amina" for r in _linker(services).identities.records_of(p))
        ),
        None,
    )
    if mother is None:
        return
    report.family = _linker(services).families.family_of(mother)
    now = datetime.now(UTC)
    granted = ConsentRecord(
        state=ConsentState.GRANTED,
        subject_kind=SubjectKind.FAMILY,
        subject_id=report.family,
        given_by=mother,
        giver=Giver.PARENT,
        recorded_by="demo-ew-0042",
        recorded_by_agency=Recipient.EARLY_HELP,
        recipients=(Recipient.EARLY_HELP, Recipient.SCHOOLS, Recipient.HEALTH),
        categories=(*sorted(THINK_FAMILY_PROBLEMS), Category.HOUSING, Category.SCHOOL_BEHAVIOUR),
        purpose=Purpose.EARLY_HELP_ASSESSMENT,
        valid_from=now,
        evidence="early help assessment form, signed",
        recorded_at=now,
    )
    report.consent_id = str(granted.consent_id)

    async def settle(record: ConsentRecord) -> dict[tuple[str, str], int]:
        await services.publisher.publish([consent_message(record)])
        while time.monotonic() < deadline:
            stored = await asyncio.to_thread(store.record, record.record_id)
            if stored == record:
                break
            await asyncio.sleep(0.1)
        return await asyncio.to_thread(store.count_decisions)

    report.after_consent = await settle(granted)
    await _quiet(services, deadline)
    hub = TimelineQuery(Recipient.EARLY_HELP.value, family_id=report.family)
    report.timeline_with_consent = len(await asyncio.to_thread(services.timeline.entries, hub))
    report.alert_with_consent = next(
        (a for a in await asyncio.to_thread(services.alerts.queue) if a["kind"] == "think_family"),
        {},
    )
    withdrawn = granted.withdraw("demo-ew-0042", datetime.now(UTC))
    report.after_withdrawal = await settle(withdrawn)
    report.keys_destroyed = await asyncio.to_thread(store.keys_destroyed)
    await _quiet(services, deadline)
    report.alerts = await asyncio.to_thread(services.alerts.queue)
    report.notifications = await asyncio.to_thread(services.alerts.notifications, datetime.now(UTC))


async def _quiet(services: Services, deadline: float, still: float = 1.5) -> None:
    """Wait until the timeline store stops changing (the services have caught up)."""
    before, since = None, time.monotonic()
    while time.monotonic() < deadline:
        now = await asyncio.to_thread(services.timeline.snapshot)
        if now != before:
            before, since = now, time.monotonic()
        elif time.monotonic() - since >= still:
            return
        await asyncio.sleep(0.2)


def _example(name: str) -> Path:
    return Path(str(resources.files("ehx") / "examples" / name))


async def run_demo(
    settings: BrokerSettings, quiet: bool = False, timeout: float = 60.0
) -> DemoReport:
    """Run the demo in a fresh folder under the data directory; return what happened."""
    logging.getLogger("ehx.services").setLevel(logging.WARNING)
    started = time.monotonic()
    workdir = settings.data_dir / "demo"
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)
    database = DatabaseSettings(database_url=f"sqlite:///{(workdir / 'ehx.db').resolve()}")
    keys = KeyStore.from_settings(KeySettings(key_dir=workdir / "keys"))
    keys.init()
    report = DemoReport()
    with EmbeddedBroker(log_path=workdir / "broker.log") as broker:
        report.bootstrap = broker.bootstrap
        topics = await apply_topology(broker.bootstrap, settings)
        report.topics_created = sum(t.state is TopicState.CREATED for t in topics)
        services = build_services(
            broker.bootstrap,
            settings,
            database,
            KeySettings(key_dir=workdir / "keys"),
            session_timeout_ms=6_000,
        )
        await services.start()
        try:
            for agency, names in EXAMPLES.items():
                summary = await ingest_files(
                    broker.bootstrap,
                    agency,
                    [_example(name) for name in names],
                    keys=keys,
                    database_url=database.url,
                    organisation=SENDERS.get(agency),
                )
                report.summaries.append(summary)
            report.published = sum(s.events_published for s in report.summaries)
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                report.stored = await asyncio.to_thread(services.intake.total)
                report.linked = await asyncio.to_thread(_linker(services).store.events_linked)
                if report.stored >= report.published and report.linked >= report.published:
                    break
                await asyncio.sleep(0.2)
            consent = services.consent.store
            while time.monotonic() < deadline:
                report.decided = await asyncio.to_thread(consent.events_decided)
                if report.decided >= report.published:
                    break
                await asyncio.sleep(0.2)
            report.before_consent = await asyncio.to_thread(consent.count_decisions)
            people = list(_linker(services).identities.people())
            report.people = len(people)
            report.families = len({_linker(services).families.family_of(p) for p in people})
            report.review = len(_linker(services).identities.review)
            report.received = dict(await asyncio.to_thread(services.intake.count_by_type))
            await _consent_and_withdrawal(services, report, deadline)
            await _audit(services, report, broker.bootstrap, settings, keys, deadline)
        finally:
            await services.stop()
            services.close_database()
    report.seconds = time.monotonic() - started
    return report
