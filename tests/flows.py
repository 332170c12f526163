"""Steps the integration and API tests share: the Khan family's example records ingested
or decided, and what landed on the quarantine and audit topics."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from faststream.kafka import KafkaBroker
from sqlalchemy import Engine, select

from ehx.adapters import ADAPTERS
from ehx.adapters.ingest import Ingestor
from ehx.adapters.registry import RecordRegistry
from ehx.alerts.desk import AlertDesk
from ehx.alerts.store import AlertStore
from ehx.audit.access import AccessLog
from ehx.audit.checkpoints import Due
from ehx.audit.ledger import AuditLedger
from ehx.audit.service import AuditService, Checkpointer, register_audit
from ehx.broker.publishing import KafkaPublisher
from ehx.broker.settings import BrokerSettings
from ehx.broker.topics import Topic
from ehx.consent import Purpose, load_policy
from ehx.consent.engine import ConsentEngine
from ehx.consent.keys import DataKeyStore
from ehx.consent.store import ConsentStore
from ehx.database import source_records
from ehx.linker.service import Linker
from ehx.linker.store import LinkStore
from ehx.organisations.directory import read_directory
from ehx.organisations.store import OrganisationStore
from ehx.schemas import Agency, CanonicalEvent, KeyStore, Role
from ehx.schemas.quarantine import QuarantineRecord
from ehx.schemas.vocabulary import Recipient
from ehx.timeline.store import TimelineStore
from tests.consent.fakes import KHAN_FILES, family_consent, linked_khans, sent_by, variant
from tests.helpers import EXAMPLES, read_json
from tests.records import NOW, PLAN, example_events

#: The example files, by agency: the Khan family across the four agencies.
FILES = {
    Agency.POLICE: ["police.jsonl"],
    Agency.HEALTH: ["health-amina-ed.json", "health-maryam-not-brought.json"],
    Agency.SCHOOLS: ["schools.csv"],
    Agency.HOUSING: ["housing.jsonl"],
}


async def quarantined(bootstrap: str, stage: str) -> list[QuarantineRecord]:
    """Everything on the quarantine topic from one stage (a fresh group reads it all)."""
    found = await read_json(bootstrap, Topic.QUARANTINE.value, lambda b: b["stage"] == stage)
    return [QuarantineRecord.model_validate(body) for _, body in found]


async def ingest_khans(bootstrap: str, engine: Engine, keys: KeyStore) -> set[str]:
    ids: set[str] = set()
    async with KafkaPublisher(bootstrap, BrokerSettings()) as publisher:
        for agency, names in FILES.items():
            ingestor = Ingestor(
                ADAPTERS[agency], RecordRegistry(engine), keys.signer(agency), publisher
            )
            for name in names:
                with (EXAMPLES / name).open("rb") as stream:
                    await ingestor.ingest(stream, name)
    with engine.connect() as connection:
        for (event_ids,) in connection.execute(select(source_records.c.event_ids)):
            ids |= set(event_ids)
    return ids


async def audit_entries(bootstrap: str, actor: str) -> list[dict[str, Any]]:
    found = await read_json(bootstrap, Topic.AUDIT.value, lambda b: b["actor"] == actor)
    return [body for _, body in found]


#: The Khan children's schools (examples/schools.csv): Yusuf at Sparkhill Park Academy,
#: Maryam at Ashfield Primary.
YUSUFS_SCHOOL, MARYAMS_SCHOOL = "103512", "103377"
#: A school in the directory that none of the Khans attends.
ANDERTON = "103291"


def directory_loaded(engine: Engine) -> None:
    """The example directory of organisations on file, as a council loads it."""
    found, problems = read_directory((EXAMPLES / "organisations.csv").read_text())
    assert not problems, problems
    OrganisationStore(engine).load(found, NOW)


#: Amina's emergency attendance was at RQ3, Maryam's missed appointment was RRK's; the
#: family's tenancy moved from the council (BCC) to Oakleaf.
AMINAS_TRUST, MARYAMS_TRUST = "RQ3", "RRK"
OLD_LANDLORD, NEW_LANDLORD = "BCC", "OAKLEAF"


def khans_served_by_two_of_each(engine: Engine) -> str:
    """The Khans on file with their organisations named: two trusts (one treats Amina,
    one Maryam) and two landlords (the family's tenancy moved from one to the other),
    the mother's consent to share with health and housing; returns the family id."""
    khans = linked_khans()
    named = []
    for event in khans:
        if event.source.agency is Agency.HEALTH:
            patient = next(s for s in event.subjects if s.role is Role.PATIENT)
            aminas = patient.demographics.given_name == "Amina"
            event = sent_by(event, AMINAS_TRUST if aminas else MARYAMS_TRUST)
        elif event.source.agency is Agency.HOUSING:
            event = sent_by(event, OLD_LANDLORD)
        named.append(event)
    household = max(
        (e for e in named if e.source.agency is Agency.HOUSING), key=lambda e: len(e.subjects)
    )
    moved = sent_by(variant(household), NEW_LANDLORD)  # a month later, Oakleaf's tenants
    named.append(moved.model_copy(update={"occurred_at": household.occurred_at + timedelta(30)}))
    store = ConsentStore(engine)
    consent = ConsentEngine(load_policy(), DataKeyStore(engine), store.load_registry(), store)
    consent.registry.apply(
        family_consent((Recipient.HEALTH, Recipient.HOUSING)).model_copy(
            update={"purpose": Purpose.TEAM_AROUND_THE_FAMILY}
        )
    )
    out = consent.on_events(sorted(named, key=lambda e: e.occurred_at), NOW)
    consent.vault.flush()
    store.save(out)
    TimelineStore(engine).apply(out.messages)
    return khans[0].subjects[0].family_id or ""


def khans_on_file(
    engine: Engine, *, high_risk: bool = False, khans: Sequence[CanonicalEvent] = ()
) -> str:
    """The Khan family decided, their views on the timelines, the alerts raised.

    ``high_risk``: the domestic abuse incident is DASH high with the children present, a
    significant-harm override, so the MASH also gets a significant-harm alert. ``khans``:
    these linked events of theirs (a test that compares with what went in), else fresh."""
    policy = load_policy()
    store = ConsentStore(engine)
    consent = ConsentEngine(policy, DataKeyStore(engine), store.load_registry(), store)
    khans = list(khans) or linked_khans()
    if high_risk:
        khans = [
            variant(e, dash_risk="high")
            if e.payload.kind == "police.incident" and len(e.subjects) == 4
            else e
            for e in khans
        ]
    events = sorted(khans, key=lambda e: e.source.agency.value != "schools")
    out = consent.on_events(events, NOW)
    consent.vault.flush()  # as the service does before it publishes
    store.save(out)
    timeline = TimelineStore(engine)
    timeline.apply(out.messages)
    AlertDesk(AlertStore(engine), timeline, policy).after(out.messages, NOW)
    return events[0].subjects[0].family_id or ""


def khans_with_a_plan(engine: Engine) -> tuple[str, str]:
    """The Khans decided and on the timelines, Maryam on a plan; (family id, Maryam's id)."""
    links = LinkStore(engine)
    linker = Linker.open(links)
    raw = [e for agency, name in KHAN_FILES for e in example_events(agency, EXAMPLES / name)]
    plan = example_events(Agency.HEALTH, PLAN)
    linked = []
    for event in [*raw, *plan]:
        done, made = linker.link(event)
        links.save(made, linker.identities.take_journal())  # as the linker service does
        linked.append(done)
    policy = load_policy()
    store = ConsentStore(engine)
    consent = ConsentEngine(policy, DataKeyStore(engine), store.load_registry(), store)
    out = consent.on_events(sorted(linked, key=lambda e: e.source.agency != "schools"), NOW)
    consent.vault.flush()
    store.save(out)
    timeline = TimelineStore(engine)
    timeline.apply(out.messages)
    AlertDesk(AlertStore(engine), timeline, policy).after(out.messages, NOW)
    maryam = linked[-1].subjects[0]
    return maryam.family_id or "", maryam.person_id or ""


@contextmanager
def audit_service(bootstrap: str, engine: Engine, key: Ed25519PrivateKey) -> Iterator[AuditLedger]:
    """The audit service on the real broker, in a thread of its own, as ``ehx up`` runs it."""
    ledger = AuditLedger(engine)
    service = AuditService(ledger, AccessLog(engine), Checkpointer(ledger, key, Due(20, 1)))
    stop = threading.Event()

    async def main() -> None:
        broker = KafkaBroker(bootstrap, enable_idempotence=False)
        publisher = KafkaPublisher(bootstrap, BrokerSettings(), role="test")
        register_audit(broker, publisher, service, session_timeout_ms=6000)
        await publisher.start()
        await broker.start()
        await asyncio.to_thread(stop.wait)
        await broker.stop()
        await publisher.stop()

    thread = threading.Thread(target=asyncio.run, args=(main(),), daemon=True)
    thread.start()
    try:
        yield ledger
    finally:
        stop.set()
        thread.join(30)


#: The JSON Lines examples' fields that say when something happened (not birth dates).
WHEN = {"police.jsonl": ("occurred_at", "reported_at"), "housing.jsonl": ("event_date",)}


def aged(name: str, years: int) -> bytes:
    """An example file whose events happened ``years`` earlier (births unchanged)."""
    lines = []
    for line in (EXAMPLES / name).read_text().splitlines():
        record = json.loads(line)
        for key in WHEN[name]:
            record[key] = f"{int(record[key][:4]) - years}{record[key][4:]}"
        lines.append(json.dumps(record))
    return "\n".join(lines).encode()
