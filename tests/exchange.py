"""The whole exchange on a broker of its own, for tests that follow records through every
service (every test's Khans are one family, and the session broker's topics are shared
by every test, so these cannot use it).

``exchange`` is the fixture (tests/conftest.py); ``ingested`` sends the agencies' files
and waits until every recipient holds what it was given.
"""

from __future__ import annotations

import io
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from ehx.adapters import ADAPTERS
from ehx.adapters.ingest import Ingestor
from ehx.adapters.registry import RecordRegistry
from ehx.broker.admin import apply_topology
from ehx.broker.embedded import EmbeddedBroker
from ehx.broker.publishing import KafkaPublisher
from ehx.broker.settings import BrokerSettings
from ehx.consent.decide import SHARED
from ehx.consent.service import consent_message
from ehx.consent.store import ConsentStore
from ehx.database import (
    audit_ledger,
    consent_events,
    data_keys,
    linker_mentions,
    received_events,
    sharing_decisions,
    timeline_entries,
)
from ehx.database.settings import DatabaseSettings
from ehx.linker.store import LinkStore
from ehx.schemas import Agency, KeySettings, KeyStore, Recipient
from ehx.schemas.vocabulary import Addressee
from ehx.services import build_services
from tests.conftest import eventually
from tests.consent.fakes import family_consent
from tests.flows import FILES, aged
from tests.helpers import EXAMPLES, cli_environment


@dataclass
class Exchange:
    bootstrap: str
    engine: Engine
    keys: KeyStore


@asynccontextmanager
async def running_exchange(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Exchange]:
    """Every service on a fresh embedded broker over ``engine``, and the command line's
    environment pointed at them (SQLite: the commands open engines of their own, which a
    test on PostgreSQL would see left open)."""
    with EmbeddedBroker() as broker:
        cli_environment(monkeypatch, tmp_path / "data", broker.bootstrap)
        url = engine.url.render_as_string(hide_password=False)
        monkeypatch.setenv("EHX_DATABASE_URL", url)
        monkeypatch.setenv("EHX_KEY_DIR", str(tmp_path / "keys"))
        settings = BrokerSettings()
        await apply_topology(broker.bootstrap, settings)
        keys = KeyStore(tmp_path / "keys")
        keys.init()
        services = build_services(
            broker.bootstrap,
            settings,
            DatabaseSettings(database_url=url),
            KeySettings(key_dir=tmp_path / "keys"),
            session_timeout_ms=6000,
        )
        await services.start()
        try:
            yield Exchange(broker.bootstrap, engine, keys)
        finally:
            await services.stop()
            services.close_database()


async def sent(exchange: Exchange, files: Mapping[Agency, Mapping[str, bytes]]) -> None:
    """These files ingested as their agencies send them; each must be accepted whole."""
    async with KafkaPublisher(exchange.bootstrap, BrokerSettings()) as publisher:
        for agency, named in files.items():
            ingestor = Ingestor(
                ADAPTERS[agency],
                RecordRegistry(exchange.engine),
                exchange.keys.signer(agency),
                publisher,
            )
            for name, data in named.items():
                summary = await ingestor.ingest(io.BytesIO(data), name)
                assert not summary.refused, summary


async def ingested(exchange: Exchange, aging: Mapping[str, int]) -> None:
    """Every example file sent (those named in ``aging`` that many years older), and
    waited for until every recipient holds what it was given."""
    await sent(
        exchange,
        {
            agency: {
                name: aged(name, aging[name]) if name in aging else (EXAMPLES / name).read_bytes()
                for name in names
            }
            for agency, names in FILES.items()
        },
    )
    await eventually(lambda: all_delivered(exchange.engine, 10), timeout=90)


def all_delivered(engine: Engine, events: int) -> bool:
    """``events`` events received, each decided, and every share held on a timeline."""
    with engine.connect() as connection:
        received = set(connection.execute(select(received_events.c.event_id)).scalars())
        decided = set(connection.execute(select(consent_events.c.event_id)).scalars())
        shared = {
            (r, e)
            for r, e in connection.execute(
                select(sharing_decisions.c.recipient, sharing_decisions.c.event_id).where(
                    sharing_decisions.c.outcome.in_([o.value for o in SHARED])
                )
            )
        }
        held = set(
            connection.execute(select(timeline_entries.c.recipient, timeline_entries.c.event_id))
        )
        ledger = connection.execute(select(func.count()).select_from(audit_ledger)).scalar_one()
    return len(received) == events and decided == received and shared <= held and ledger > 0


def person_named(engine: Engine, given: str) -> str:
    """The person the linker made of everyone recorded under this given name."""
    links = LinkStore(engine)
    with engine.connect() as connection:
        own = connection.execute(
            select(linker_mentions.c.person_id).where(linker_mentions.c.given_name == given)
        ).scalars()
        [person] = {links.root(p) for p in own}
    return person


def has_key_for(engine: Engine, person: str, recipient: str) -> bool:
    with engine.connect() as connection:
        return (
            connection.execute(
                select(data_keys.c.key_id).where(
                    data_keys.c.person_id == person,
                    data_keys.c.recipient == recipient,
                    data_keys.c.key.is_not(None),
                )
            ).first()
            is not None
        )


async def consented(
    exchange: Exchange, mother: str, recipients: tuple[Recipient, ...] = (Recipient.EARLY_HELP,)
) -> None:
    """The mother's consent for her family's information to reach these recipients, on
    the topic, and waited for until each is allowed something and holds what it may."""
    engine = exchange.engine
    family = next(iter(ConsentStore(engine).families_of(mother)))
    consent = family_consent(recipients, family, mother, datetime.now(UTC))
    async with KafkaPublisher(exchange.bootstrap, BrokerSettings()) as publisher:
        await publisher.publish([consent_message(consent)])

    def allowed() -> set[str]:
        with engine.connect() as connection:
            addressees = connection.execute(
                select(sharing_decisions.c.recipient).where(sharing_decisions.c.outcome == "allow")
            ).scalars()
            return {Addressee.parse(a).recipient.value for a in addressees}

    await eventually(lambda: {r.value for r in recipients} <= allowed(), timeout=60)
    await eventually(lambda: all_delivered(engine, 10), timeout=60)
