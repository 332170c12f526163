"""``ehx demo``: the whole exchange once, on this machine, start to finish.

It grows with the pipeline. Today: embedded broker → topics → agency adapters
(sign, publish, quarantine) → intake service (verify, store) and linker (people and
families, to ehx.linked) → a report.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import time
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from adapters import IngestSummary
from broker.admin import TopicState, apply_topology
from broker.app import build_services
from broker.embedded import EmbeddedBroker
from broker.settings import BrokerSettings
from database.settings import DatabaseSettings
from ehx.ingesting import ingest_files
from schemas import Agency, KeySettings, KeyStore

EXAMPLES: dict[Agency, tuple[str, ...]] = {
    Agency.POLICE: ("police.jsonl", "refused-police.jsonl"),
    Agency.HEALTH: ("health-amina-ed.json", "health-maryam-not-brought.json"),
    Agency.SCHOOLS: ("schools.csv",),
    Agency.HOUSING: ("housing.jsonl",),
}


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
    seconds: float = 0.0

    @property
    def complete(self) -> bool:
        return self.published > 0 and self.stored == self.linked == self.published

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
            "received_by_type": [
                {"agency": a, "event_type": t, "events": n}
                for (a, t), n in sorted(self.received.items())
            ],
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
        verdict = (
            "[green]every published event arrived[/]" if self.complete else "[red]events missing[/]"
        )
        console.print(
            f"{self.published} events published, {self.stored} verified and stored, "
            f"{self.linked} linked: {verdict} "
            f"({self.seconds:.1f}s)."
        )
        console.print(
            "Not yet in the demo: consent decisions, timelines, MASH alerts "
            "and the audit ledger (see Status in the README)."
        )


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
        await services.broker.start()
        try:
            for agency, names in EXAMPLES.items():
                summary = await ingest_files(
                    broker.bootstrap,
                    agency,
                    [_example(name) for name in names],
                    keys=keys,
                    database_url=database.url,
                )
                report.summaries.append(summary)
            report.published = sum(s.events_published for s in report.summaries)
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                report.stored = await asyncio.to_thread(services.intake.total)
                report.linked = await asyncio.to_thread(services.linker.store.events_linked)
                if report.stored >= report.published and report.linked >= report.published:
                    break
                await asyncio.sleep(0.2)
            people = list(services.linker.identities.people())
            report.people = len(people)
            report.families = len({services.linker.families.family_of(p) for p in people})
            report.review = len(services.linker.identities.review)
            report.received = dict(await asyncio.to_thread(services.intake.count_by_type))
        finally:
            await services.broker.stop()
            services.engine.dispose()
    report.seconds = time.monotonic() - started
    return report
