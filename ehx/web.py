"""The web application ``ehx serve`` runs: the API with the console's pages beside it."""

from __future__ import annotations

from fastapi import FastAPI

from ehx.api import create_app as create_api
from ehx.broker.settings import BrokerSettings
from ehx.console.sessions import Clock, utc_now
from ehx.console.web import ConsoleSettings, install
from ehx.schemas import KeyStore


def create_app(
    bootstrap: str,
    database_url: str | None = None,
    keys: KeyStore | None = None,
    settings: BrokerSettings | None = None,
    console: ConsoleSettings | None = None,
    clock: Clock = utc_now,
) -> FastAPI:
    """The API and the console, publishing to the broker at ``bootstrap``; ``clock`` ends
    console sessions (tests pass their own)."""
    app = create_api(bootstrap, database_url, keys, settings)
    install(app, (settings or BrokerSettings()).data_dir, console, clock)
    return app
