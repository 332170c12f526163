"""The composition root of the services: one FastStream app with each stage's subscribers.

Resources (the database engine, the keys) are opened here, in the lifespan, never at
import. ``broker/`` knows the topology and the wire; this module knows the services.
"""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass
from pathlib import Path

from faststream import FastStream
from faststream.kafka import KafkaBroker
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy import Engine

from ehx.alerts.desk import AlertDesk
from ehx.alerts.store import AlertStore, sweep_escalations
from ehx.audit.access import AccessLog
from ehx.audit.checkpoints import Due
from ehx.audit.ledger import AuditLedger
from ehx.audit.service import (
    AuditService,
    AuditSettings,
    Checkpointer,
    checkpoint_timer,
    register_audit,
)
from ehx.broker import telemetry
from ehx.broker.consuming import ServicesBroker
from ehx.broker.heap import freeze_start_up, keep_long_lived_out_of_collections, record_stops
from ehx.broker.logs import protect_logs
from ehx.broker.publishing import KafkaPublisher
from ehx.broker.security import security_for
from ehx.broker.settings import BrokerSettings
from ehx.consent import load_policy
from ehx.consent.keys import DataKeyStore
from ehx.consent.policy import PolicySettings
from ehx.consent.service import ConsentService, register_consent, sweep_expiries
from ehx.consent.store import ConsentStore
from ehx.database import WalCheckpointer, checkpoint_in_background, migrate, open_engine
from ehx.database.settings import DatabaseSettings
from ehx.intake.service import register_intake
from ehx.intake.store import IntakeStore
from ehx.linker.service import Linker, register_linker
from ehx.linker.store import LinkStore
from ehx.runtime import SERVICES
from ehx.schemas import KeySettings, KeyStore
from ehx.timeline.service import register_timeline
from ehx.timeline.store import TimelineStore


class ServiceSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="EHX_", frozen=True, extra="ignore")

    #: A directory where each process writes, as it stops, how long each garbage
    #: collection stopped it (``collector-SERVICE.json``: ``heap.record_stops``' start,
    #: generation, seconds and objects freed). For benchmarks; unset, nothing is timed.
    collector_reports: Path | None = None


@dataclass
class Services:
    """The running services' shared resources.

    ``broker`` consumes; ``publisher`` is the one producer every service publishes its
    batches through (``broker/publishing.py``). Start and stop them together with
    ``start`` and ``stop``.
    """

    broker: KafkaBroker
    publisher: KafkaPublisher
    engine: Engine
    intake: IntakeStore
    #: None unless this process runs the linker.
    linker: Linker | None
    consent: ConsentService
    timeline: TimelineStore
    alerts: AlertStore
    audit: AuditService
    #: SQLite's log checkpoints, taken out of the services' commits (``database/wal.py``).
    checkpoints: WalCheckpointer | None = None

    async def start(self) -> None:
        await self.publisher.start()  # before any subscriber can have something to send
        await self.broker.start()

    async def stop(self) -> None:
        await self.broker.stop()
        await self.publisher.stop()

    def close_database(self) -> None:
        """Stop the log's checkpoints, then close every connection (after ``stop``)."""
        if self.checkpoints is not None:
            self.checkpoints.stop()
        self.engine.dispose()


def build_services(
    bootstrap: str,
    settings: BrokerSettings | None = None,
    database: DatabaseSettings | None = None,
    keys: KeySettings | None = None,
    *,
    session_timeout_ms: int = 10_000,
    only: frozenset[str] | None = None,
) -> Services:
    """A broker with the services' subscribers attached, and the database migrated.

    ``only`` names some of ``SERVICES`` to run in this process (all by default): they
    share nothing but the topics and the database, so each may run in its own process.
    """
    unknown = (only or frozenset()) - set(SERVICES)
    if unknown:
        raise ValueError(f"unknown service(s) {', '.join(sorted(unknown))}; one of {SERVICES}")
    run = only or frozenset(SERVICES)
    protect_logs()
    telemetry.configure("services" if only is None else "-".join(sorted(only)))
    settings = settings or BrokerSettings()
    database = database or DatabaseSettings()
    engine = open_engine(database.url)
    migrate(engine)
    checkpoints = checkpoint_in_background(engine, database.wal_checkpoint_seconds)
    broker = ServicesBroker(
        # Every broker of a cluster ("a:9093,b:9093"): FastStream takes a string as one.
        bootstrap.split(","),
        security=security_for(settings),
        client_id=f"{settings.client_id}-services",
        logger=logging.getLogger("ehx.services"),
        # aiokafka's idempotent producer needs InitProducerId, which tansu refuses;
        # exactly-once rests on event ids instead.
        enable_idempotence=False,
        acks="all",
    )
    publisher = KafkaPublisher(bootstrap, settings, role="services")
    verifier = KeyStore.from_settings(keys).verifier()
    intake = IntakeStore(engine)
    if "intake" in run:
        register_intake(broker, publisher, intake, verifier, session_timeout_ms=session_timeout_ms)
    # Only the linker's process holds the identity index (loading it costs memory and
    # start-up time in proportion to everyone ever linked).
    linker = Linker.open(LinkStore(engine)) if "linker" in run else None
    if linker is not None:
        register_linker(broker, publisher, linker, verifier, session_timeout_ms=session_timeout_ms)
    # A bad policy file stops start-up here, naming the line (PolicyInvalid).
    policy = load_policy()
    consent = ConsentService.open(ConsentStore(engine), DataKeyStore(engine), policy)
    if "consent" in run:
        register_consent(
            broker, publisher, consent, verifier, session_timeout_ms=session_timeout_ms
        )
    timeline, alerts = TimelineStore(engine), AlertStore(engine)
    desk = AlertDesk(alerts, timeline, policy)
    if "timeline" in run:
        register_timeline(
            broker, publisher, timeline, desk.after, session_timeout_ms=session_timeout_ms
        )
    audit_settings = AuditSettings()
    ledger = AuditLedger(engine)
    checkpointer = Checkpointer(
        ledger,
        KeyStore.from_settings(keys).ledger_private_key(),
        Due(audit_settings.checkpoint_every, audit_settings.checkpoint_seconds),
    )
    audit = AuditService(ledger, AccessLog(engine), checkpointer)
    if "audit" in run:
        register_audit(broker, publisher, audit, session_timeout_ms=session_timeout_ms)
    return Services(
        broker, publisher, engine, intake, linker, consent, timeline, alerts, audit, checkpoints
    )


def services_app(bootstrap: str, only: frozenset[str] | None = None) -> FastStream:
    """The FastStream app ``ehx up`` runs in the background (SIGTERM stops it cleanly)."""
    keep_long_lived_out_of_collections()
    settings = ServiceSettings()
    reports = settings.collector_reports
    stops = record_stops() if reports else []
    services = build_services(bootstrap, only=only)
    freeze_start_up()
    tasks: list[asyncio.Task[None]] = []

    async def start_sweep() -> None:
        # Each sweep runs in the process of the service it belongs to, not in every one.
        running = only or SERVICES
        every = PolicySettings().expiry_sweep_seconds
        if "consent" in running:
            tasks.append(
                asyncio.create_task(sweep_expiries(services.publisher, services.consent, every))
            )
        if "timeline" in running:  # the timeline service keeps the alerts
            calendar = services.consent.engine.policy.operation_encompass
            tasks.append(asyncio.create_task(sweep_escalations(services.alerts, calendar, every)))
        if "audit" in running:
            seconds = AuditSettings().checkpoint_seconds
            tasks.append(asyncio.create_task(checkpoint_timer(services.audit, seconds)))

    async def stop_sweep() -> None:
        for task in tasks:
            task.cancel()

    async def write_stops() -> None:
        if reports:
            name = "+".join(sorted(only)) if only else "services"
            (reports / f"collector-{name}.json").write_text(json.dumps(stops))

    return FastStream(
        services.broker,
        on_startup=[services.publisher.start],
        after_startup=[start_sweep],
        on_shutdown=[stop_sweep],
        after_shutdown=[services.publisher.stop, services.close_database, write_stops],
    )
