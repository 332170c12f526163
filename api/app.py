"""The HTTP API (FastAPI): resources open in the lifespan, routes in their own modules."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request, Response
from fastapi.exception_handlers import http_exception_handler
from starlette.exceptions import HTTPException as StarletteHTTPException

from ehx.api.audit import router as audit_router
from ehx.api.auditing import record_refusal, tallied
from ehx.api.consent import router as consent_router
from ehx.api.credentials import AgencyCredentials
from ehx.api.hardening import harden
from ehx.api.ingest import router as ingest_router
from ehx.api.links import router as links_router
from ehx.api.screening import router as screening_router
from ehx.api.state import ApiState
from ehx.broker.auditing import audit_message
from ehx.broker.publishing import KafkaPublisher
from ehx.broker.settings import BrokerSettings
from ehx.database import checkpoint_in_background, migrate, open_engine
from ehx.schemas import KeyStore


def create_app(
    bootstrap: str,
    database_url: str | None = None,
    keys: KeyStore | None = None,
    settings: BrokerSettings | None = None,
) -> FastAPI:
    """The ehx API, publishing to the broker at ``bootstrap`` (``ehx.web`` adds the console)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = open_engine(database_url)
        migrate(engine)
        # Agencies' records are registered as they arrive: a commit that stopped to
        # checkpoint SQLite's log would hold up the agency's request (database/wal.py).
        checkpoints = checkpoint_in_background(engine)
        publisher = KafkaPublisher(bootstrap, settings or BrokerSettings())
        await publisher.start()
        app.state.ehx = ApiState(
            engine, keys or KeyStore.from_settings(), publisher, AgencyCredentials(engine)
        )
        try:
            yield
        finally:
            counted = app.state.ehx.refusals.due()
            await publisher.publish([audit_message(tallied(*c)) for c in counted])
            await publisher.stop()
            app.state.ehx.registry_thread.shutdown(wait=True)
            if checkpoints is not None:
                checkpoints.stop()
            engine.dispose()

    app = FastAPI(
        title="Early Help Exchange",
        version="0.1.0",
        description=(
            "Agency ingest, consent, family timelines, MASH alerts and Operation Encompass "
            "for the Early Help Exchange. Each agency system (and the MASH and the early "
            "help hub) holds its own token and acts, and sees, only as itself. Every read "
            "of a timeline or the alert queue is recorded on ehx.audit before it is answered; "
            "auditors' tokens query the tamper-evident audit ledger."
        ),
        lifespan=lifespan,
    )

    @app.exception_handler(StarletteHTTPException)
    async def refusals_are_recorded(request: Request, exc: StarletteHTTPException) -> Response:
        """Every 401 and 403, of the API and the console, goes on ehx.audit, then is answered."""
        if exc.status_code in (401, 403):
            await record_refusal(request, exc.status_code, str(exc.detail))
        return await http_exception_handler(request, exc)

    harden(app)
    app.include_router(ingest_router)
    app.include_router(consent_router)
    app.include_router(screening_router)
    app.include_router(audit_router)
    app.include_router(links_router)
    return app
