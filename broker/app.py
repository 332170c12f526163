"""The FastStream application that wires the services to the broker.

Resources (the database engine, the keys) are opened here, in the lifespan, never
at import.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path

from faststream import FastStream
from faststream.kafka import KafkaBroker
from faststream.security import (
    BaseSecurity,
    SASLPlaintext,
    SASLScram256,
    SASLScram512,
)
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy import Engine

from alerts import AlertDesk, AlertStore, sweep_escalations
from audit.access import AccessLog
from audit.checkpoints import Due
from audit.ledger import AuditLedger
from audit.service import (
    AuditService,
    AuditSettings,
    Checkpointer,
    checkpoint_timer,
    register_audit,
)
from broker import pacing, telemetry
from broker.heap import collect_between_batches, freeze_start_up, record_stops
from broker.logs import protect_logs
from broker.publishing import KafkaPublisher
from broker.settings import BrokerSettings
from consent import ConsentService, ConsentStore, DataKeyStore, load_policy, register_consent
from consent.policy import PolicySettings
from consent.service import sweep_expiries
from database import WalCheckpointer, checkpoint_in_background, migrate, open_engine
from database.settings import DatabaseSettings
from intake import IntakeStore, register_intake
from linker import Linker, LinkStore, register_linker
from schemas import KeySettings, KeyStore
from timeline import TimelineStore, register_timeline


def security_for(settings: BrokerSettings) -> BaseSecurity | None:
    """FastStream's security object for the configured protocol."""
    options = settings.client_options()
    ssl_context = options.get("ssl_context")
    use_ssl = settings.security_protocol == "SASL_SSL"
    if settings.security_protocol.startswith("SASL"):
        username = settings.sasl_username or ""
        password = settings.sasl_password.get_secret_value() if settings.sasl_password else ""
        kinds: dict[str, type[SASLPlaintext | SASLScram256 | SASLScram512]] = {
            "PLAIN": SASLPlaintext,
            "SCRAM-SHA-256": SASLScram256,
            "SCRAM-SHA-512": SASLScram512,
        }
        kind = kinds[settings.sasl_mechanism or "PLAIN"]
        return kind(username, password, ssl_context=ssl_context, use_ssl=use_ssl)
    if settings.security_protocol == "SSL":
        return BaseSecurity(ssl_context=ssl_context, use_ssl=True)
    return None


#: The services, in pipeline order (the timeline service raises alerts too; the audit
#: service keeps the ledger every other one writes to).
SERVICES = ("intake", "linker", "consent", "timeline", "audit")
#: Off the alert's path: the store of raw events and the audit ledger. Nothing waits for
#: them (a stage publishes its audit records before it commits, not before the ledger
#: holds them), so where the services share one machine they give way when the CPU is
#: short, as in a burst, and catch up after it.
BACKGROUND = frozenset({"intake", "audit"})


class ServiceSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="EHX_", frozen=True, extra="ignore")

    #: The ``nice`` increment of a process that runs only ``BACKGROUND`` services (0: none).
    #: At 19 such a process gets about 1.5% of a busy core's share of the CPU while the
    #: alert's path wants it (at 10, about a tenth), and all of what is left. Measured at
    #: 1,000 records/s, two rounds alternated: alert p99 4.5 and 3.8 s at 10, 3.4 and 3.4 s
    #: at 19 (docs/performance.md).
    background_nice: int = 19
    #: Such a process also waits, before each batch, while tasks queue for the CPU for
    #: more than this share of the time (``broker.pacing``; 0: never waits), for at most
    #: ``background_wait_longest`` seconds a batch. ``nice`` alone let the two take 2.9 s
    #: of CPU in a 10 s burst at 1,000 records/s (docs/performance.md).
    background_wait_share: float = 0.25
    background_wait_longest: float = 5.0
    #: A directory where each process writes, as it stops, how long each garbage
    #: collection stopped it (``collector-SERVICE.json``: ``heap.record_stops``' start,
    #: generation, seconds and objects freed). For benchmarks; unset, nothing is timed.
    collector_reports: Path | None = None


def give_way(only: frozenset[str] | None, settings: ServiceSettings | None = None) -> int:
    """Lower this process's CPU priority if it runs only background services, and make
    its batches wait for a free CPU (``broker.pacing``).

    Returns the ``nice`` increment applied (0 if none).
    """
    settings = settings or ServiceSettings()
    if not only or not only <= BACKGROUND:
        return 0
    if settings.background_wait_share > 0:
        turns = pacing.CpuTurns(
            settings.background_wait_share, longest=settings.background_wait_longest
        )
        pacing.wait_for_free_cpu(turns)
    increment = settings.background_nice
    if increment <= 0 or not hasattr(os, "nice"):
        return 0
    os.nice(increment)
    return increment


@dataclass
class Services:
    """The running services' shared resources.

    ``broker`` consumes; ``publisher`` is the one producer every service publishes its
    batches through (large producer batches: see ``broker/publishing.py``). Start and
    stop them together with ``start`` and ``stop``.
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
    broker = KafkaBroker(
        bootstrap,
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
    collect_between_batches()
    settings = ServiceSettings()
    give_way(only, settings)
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

    async def say_how_long_it_gave_way() -> None:
        turns = pacing.current()
        if turns is not None and turns.waits:
            logging.getLogger("ehx.services").info(
                "gave way to the alert path: %d batches waited for a free CPU, %.1f s in all",
                turns.waits,
                turns.waited,
            )

    async def write_stops() -> None:
        if reports:
            name = "+".join(sorted(only)) if only else "services"
            (reports / f"collector-{name}.json").write_text(json.dumps(stops))

    return FastStream(
        services.broker,
        on_startup=[services.publisher.start],
        after_startup=[start_sweep],
        on_shutdown=[stop_sweep],
        after_shutdown=[
            services.publisher.stop,
            services.close_database,
            say_how_long_it_gave_way,
            write_stops,
        ],
    )
