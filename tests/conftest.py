"""Shared fixtures: one real Kafka endpoint per session, and a database per test.

Kafka: testcontainers' Kafka module where a Docker engine answers, otherwise the
embedded tansu broker. Never FastStream's in-memory test broker.
PostgreSQL: ``EHX_TEST_DATABASE_URL`` (``.ci/run`` points it at 127.0.0.1:5432); tests
marked ``postgres`` fail rather than skip when CI sets ``EHX_REQUIRE_POSTGRES``.
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import OperationalError, ProgrammingError

from bench.kafka_cluster import KafkaCluster, running_cluster
from ehx.database import migrate, open_engine
from ehx.schemas import KeyStore

if TYPE_CHECKING:
    from tests.exchange import Exchange

POSTGRES_URL = os.environ.get("EHX_TEST_DATABASE_URL")


async def eventually(
    condition: Callable[[], bool], timeout: float = 30.0, every: float = 0.2
) -> None:
    """Wait until ``condition`` holds (asked in a thread: it may read the database), or fail.

    The one polling loop of the suite: what crosses the broker arrives when it arrives.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        if await asyncio.to_thread(condition):
            return
        await asyncio.sleep(every)
    raise AssertionError(f"not so within {timeout:.0f} s")


def eventually_now(
    condition: Callable[[], bool], timeout: float = 30.0, every: float = 0.2
) -> None:
    """``eventually`` for code with no event loop of its own (Playwright's sync API, a
    command-line run, a background thread): the same wait, blocking."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(every)
    raise AssertionError(f"not so within {timeout:.0f} s")


def _docker_answers() -> bool:
    host = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
    if host.startswith("unix://") and not Path(host.removeprefix("unix://")).exists():
        return False
    import docker

    try:
        client = docker.from_env(timeout=2)
    except Exception:
        return False
    try:
        return bool(client.ping())
    except Exception:
        return False
    finally:
        client.close()


def pytest_report_header() -> list[str]:
    """Say which real services the integration tests use, so a CI log shows it."""
    kafka = os.environ.get("EHX_TEST_BOOTSTRAP_SERVERS") or (
        "testcontainers Kafka" if _docker_answers() else "embedded tansu broker (real process)"
    )
    postgres = "PostgreSQL at " + POSTGRES_URL.split("@")[-1] if POSTGRES_URL else "none (skipped)"
    return [f"ehx kafka: {kafka}", f"ehx postgres: {postgres}"]


@pytest.fixture(scope="session")
def kafka_bootstrap() -> Iterator[str]:
    """A real Kafka-protocol broker for the whole session."""
    if os.environ.get("EHX_TEST_BOOTSTRAP_SERVERS"):
        yield os.environ["EHX_TEST_BOOTSTRAP_SERVERS"]
        return
    if _docker_answers():  # pragma: no cover - no Docker engine on the dev machines
        from testcontainers.kafka import KafkaContainer

        with KafkaContainer().with_kraft() as container:
            yield container.get_bootstrap_server()
        return
    from ehx.broker.embedded import EmbeddedBroker

    with EmbeddedBroker() as broker:
        yield broker.bootstrap


@pytest.fixture(scope="session")
def kafka_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KafkaCluster]:
    """Apache Kafka itself: three KRaft nodes with deploy/'s settings and ACLs (about 30 s
    to start; the jars are fetched by Maven once). Skipped without a JDK and Maven,
    unless EHX_REQUIRE_KAFKA_CLUSTER=1 (CI), where it must run."""
    import shutil

    if not (shutil.which("java") and shutil.which("mvn")):
        if os.environ.get("EHX_REQUIRE_KAFKA_CLUSTER") == "1":
            pytest.fail("EHX_REQUIRE_KAFKA_CLUSTER=1 but java or mvn is missing")
        pytest.skip("no JDK and Maven: the real Kafka cluster tests need both")
    yield from running_cluster(tmp_path_factory.mktemp("kafka-cluster"))


@pytest.fixture
def keys(tmp_path: Path) -> KeyStore:
    store = KeyStore(tmp_path / "keys")
    store.init()
    return store


def _fresh_postgres(url: str) -> Engine:
    """A new, empty database on the server, so tests never see each other's rows."""
    from sqlalchemy.engine import make_url

    name = f"ehx_test_{uuid.uuid4().hex[:12]}"
    admin = open_engine(url).execution_options(isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return open_engine(make_url(url).set(database=name).render_as_string(hide_password=False))


def _drop_postgres(engine: Engine, url: str) -> None:
    name = engine.url.database
    engine.dispose()
    admin = open_engine(url).execution_options(isolation_level="AUTOCOMMIT")
    # FORCE ends the test's own leftover sessions; it may not end an autovacuum worker
    # (the server's, not ours: "must be a member of pg_signal_backend"), which a plain
    # DROP waits out and stops itself.
    for attempt, force in enumerate((" WITH (FORCE)", "", "")):
        try:
            with admin.connect() as connection:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}"{force}'))
            break
        except (ProgrammingError, OperationalError):
            if attempt == 2:
                raise
            time.sleep(1)
    admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """A migrated database: SQLite, and PostgreSQL when one is configured."""
    if request.param == "sqlite":
        sqlite = open_engine(f"sqlite:///{tmp_path / 'ehx.db'}")
        migrate(sqlite)
        yield sqlite
        sqlite.dispose()
        return
    if not POSTGRES_URL:
        if os.environ.get("EHX_REQUIRE_POSTGRES"):
            pytest.fail("EHX_REQUIRE_POSTGRES is set but EHX_TEST_DATABASE_URL is not")
        pytest.skip("no EHX_TEST_DATABASE_URL: PostgreSQL tests need a server")
    postgres = _fresh_postgres(POSTGRES_URL)
    migrate(postgres)
    yield postgres
    _drop_postgres(postgres, POSTGRES_URL)


@pytest.fixture
def sqlite_engine(tmp_path: Path) -> Iterator[Engine]:
    """A migrated SQLite database, for tests about something other than storage."""
    sqlite = open_engine(f"sqlite:///{tmp_path / 'ehx.db'}")
    migrate(sqlite)
    yield sqlite
    sqlite.dispose()


@pytest.fixture
async def exchange(
    sqlite_engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Exchange]:
    """Every service on a broker of its own, over SQLite (tests/exchange.py)."""
    from tests.exchange import running_exchange  # it uses this module's helpers

    async with running_exchange(sqlite_engine, tmp_path, monkeypatch) as running:
        yield running
