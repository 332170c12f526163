"""Console page time to first byte: a family page with 10, 1,000 and 10,000 entries.

``ehx serve`` (uvicorn, one worker) on loopback with an embedded broker and SQLite; an
early help practitioner signed in. The family page is rendered whole before its first
byte (server-side templates), so time to first byte is the time to read the timeline's
latest page, open each of its entries with the reader's keys, record the read on
``ehx.audit``, work out the family's level of need from its whole timeline, and render.
Baseline, same server and run: the sign-in page (no data, no audit).
"""

from __future__ import annotations

import asyncio
import re
import secrets
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from bench.report import spread
from bench.timeline import fill, template
from ehx.broker.admin import apply_topology
from ehx.broker.embedded import EmbeddedBroker, free_port
from ehx.broker.settings import BrokerSettings
from ehx.console.web import ConsoleSettings
from ehx.database import migrate, open_engine
from ehx.organisations.people import Accounts, Role
from ehx.schemas import KeyStore
from ehx.schemas.vocabulary import Recipient
from ehx.timeline.store import TimelineStore

SIZES = (10, 1_000, 10_000)
READS = 7
PASSWORD = secrets.token_urlsafe(16)


def _ttfb_ms(http: httpx.Client, path: str) -> float:
    started = time.perf_counter()
    with http.stream("GET", path) as response:
        elapsed = (time.perf_counter() - started) * 1000
        assert response.status_code == 200, (path, response.status_code)
        response.read()
    return elapsed


def run() -> dict[str, Any]:
    from ehx.web import create_app

    results: dict[str, Any] = {"pages": []}
    with (
        tempfile.TemporaryDirectory() as scratch,
        EmbeddedBroker(log_path=Path(scratch) / "broker.log") as broker,
    ):
        with ThreadPoolExecutor(1) as pool:
            pool.submit(asyncio.run, apply_topology(broker.bootstrap, BrokerSettings())).result()
        url = f"sqlite:///{Path(scratch) / 'console.db'}"
        engine = open_engine(url)
        migrate(engine)
        keys = KeyStore(Path(scratch) / "keys")
        keys.init()
        view = template()
        store = TimelineStore(engine)
        for size in SIZES:
            fill(store, view, f"fbench{size}", size, others=0)
        Accounts(engine).add("bench", Role.PRACTITIONER, PASSWORD, Recipient(view.recipient))
        app = create_app(broker.bootstrap, url, keys, console=ConsoleSettings(secret="b" * 40))
        port = free_port()
        server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
        )
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        while not server.started:
            time.sleep(0.05)
        try:
            with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60) as http:
                token = re.search(r'name="csrf" value="([^"]+)"', http.get("/login").text)
                assert token is not None
                http.post(
                    "/login",
                    data={"username": "bench", "password": PASSWORD, "csrf": token.group(1)},
                )
                results["baseline_login_page_ms"] = spread(
                    [_ttfb_ms(http, "/login") for _ in range(READS)]
                )
                for size in SIZES:
                    _ttfb_ms(http, f"/families/fbench{size}")  # warm
                    timings = [_ttfb_ms(http, f"/families/fbench{size}") for _ in range(READS)]
                    results["pages"].append({"entries": size, "ttfb_ms": spread(timings)})
        finally:
            server.should_exit = True
            thread.join(20)
            engine.dispose()
    thousand = next(p for p in results["pages"] if p["entries"] == 1_000)
    results["ratio_1000_to_baseline"] = (
        thousand["ttfb_ms"]["median"] / results["baseline_login_page_ms"]["median"]
    )
    return results
