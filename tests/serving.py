"""``ehx serve`` on a loopback port for the API, console and browser tests."""

from __future__ import annotations

import asyncio
import re
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

import httpx
import uvicorn
from sqlalchemy import Engine

from ehx.broker.admin import apply_topology
from ehx.broker.embedded import free_port
from ehx.broker.settings import BrokerSettings
from ehx.console.sessions import Clock, utc_now
from ehx.console.web import ConsoleSettings
from ehx.schemas import KeyStore
from ehx.web import create_app
from tests.conftest import eventually_now


@contextmanager
def serve(
    bootstrap: str,
    engine: Engine,
    keys: KeyStore,
    console: ConsoleSettings | None = None,
    clock: Clock = utc_now,
    port: int | None = None,
) -> Iterator[str]:
    """``ehx serve`` (API and console) on a loopback port, in a thread; yields its URL."""
    # In a thread of its own: Playwright's sync API keeps an event loop in this one.
    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, apply_topology(bootstrap, BrokerSettings())).result()
    app = create_app(
        bootstrap,
        engine.url.render_as_string(hide_password=False),
        keys,
        console=console or ConsoleSettings(secret="test-" + "x" * 40),
        clock=clock,
    )
    port = port or free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    eventually_now(lambda: server.started, 20, every=0.05)  # the API has started
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(20)


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def csrf_of(page: str) -> str:
    """The CSRF token a console page's forms carry."""
    found = re.search(r'name="csrf" value="([^"]+)"', page)
    assert found, "the page carries no CSRF token"
    return found.group(1)


@contextmanager
def signed_in(base: str, username: str, password: str) -> Iterator[httpx.Client]:
    """A client signed in to the console at ``base`` with a built-in account."""
    with httpx.Client(base_url=base, timeout=30) as http:
        token = csrf_of(http.get("/login").text)
        answer = http.post(
            "/login", data={"username": username, "password": password, "csrf": token}
        )
        assert answer.status_code == 303, answer.text
        yield http
