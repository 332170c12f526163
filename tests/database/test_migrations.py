"""Migrations carry what was decided before them: reviewers' decisions join the journal."""

from __future__ import annotations

import hashlib
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, insert, text

from ehx.database import link_reviews
from ehx.database.engine import MIGRATIONS, migrate, open_engine
from ehx.linker.index import JournalEntry, Op
from ehx.linker.store import LinkStore
from tests.conftest import POSTGRES_URL, _drop_postgres, _fresh_postgres


def _to(engine: Engine, revision: str) -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, revision)


def test_reviewers_decisions_taken_before_the_journal_are_replayed_from_it(engine: Engine) -> None:
    _to(engine, "0009")
    decided = {
        "event_id": "e",
        "weight": 18.0,
        "evidence": {},
        "created_at": datetime(2026, 11, 1, tzinfo=UTC),
        "decided_by": "sw-1",
        "reason": "same GP",
    }
    with engine.begin() as connection:
        connection.execute(
            insert(link_reviews),
            [
                {
                    **decided,
                    "review_id": "p00000007~p00000003",
                    "person_id": "p00000007",
                    "candidate_id": "p00000003",
                    "same_person": True,
                    "decided_at": datetime(2026, 11, 2, tzinfo=UTC),
                },
                {
                    **decided,
                    "review_id": "p00000009~p00000004",
                    "person_id": "p00000009",
                    "candidate_id": "p00000004",
                    "same_person": False,
                    "decided_at": datetime(2026, 11, 3, tzinfo=UTC),
                },
            ],
        )
    migrate(engine)
    assert LinkStore(engine).journal() == [
        JournalEntry(Op.MERGE, "p00000003", "p00000007", "p00000007~p00000003"),
        JournalEntry(Op.APART, "p00000004", "p00000009", "p00000009~p00000004"),
    ]


def test_the_intake_copy_of_each_event_becomes_a_hash_and_old_tokens_get_an_expiry(
    engine: Engine,
) -> None:
    """Migrations 0019 and 0020 on a database that held plaintext events and tokens that
    never expired: the content is gone, its hash stays; every token now expires."""
    _to(engine, "0018")
    body = '{"event": "a disclosure in plain words"}'
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO received_events (event_id, agency, record_ref, record_version,"
                ' event_type, occurred_at, received_at, topic, partition, "offset", body)'
                " VALUES ('e1', 'schools', 'r1', 1, 'schools.safeguarding_concern',"
                " :at, :at, 'ehx.raw.schools', 0, 7, :body)"
            ),
            {"at": datetime(2026, 11, 1, tzinfo=UTC), "body": body},
        )
        connection.execute(
            text(
                "INSERT INTO agency_credentials (token_hash, agency, label, created_at)"
                " VALUES ('h', 'schools', 'MIS', :at)"
            ),
            {"at": datetime(2026, 11, 1, tzinfo=UTC)},
        )
    migrate(engine)
    with engine.connect() as connection:
        row = connection.execute(text("SELECT * FROM received_events")).mappings().one()
        expires = connection.execute(text("SELECT expires_at FROM agency_credentials")).scalar()
    assert "body" not in row and body not in str(dict(row))
    assert row["sha256"] == hashlib.sha256(body.encode()).hexdigest()
    assert expires is not None


@pytest.mark.parametrize("kind", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_several_processes_migrating_one_fresh_database_at_once_all_succeed(
    kind: str, tmp_path: Path
) -> None:
    """``ehx up`` starts a process per service, each migrating at start: none may fail."""
    if kind == "sqlite":
        url, fresh = f"sqlite:///{tmp_path / 'fresh.db'}", None
    else:
        if not POSTGRES_URL:
            pytest.skip("no EHX_TEST_DATABASE_URL")
        fresh = _fresh_postgres(POSTGRES_URL)
        url = fresh.url.render_as_string(hide_password=False)
    # Each imports first, then all start migrating at the same moment.
    script = (
        "import sys, time; from database import migrate, open_engine; "
        "engine = open_engine(sys.argv[1]); time.sleep(float(sys.argv[2]) - time.time()); "
        "migrate(engine)"
    )
    at = str(time.time() + 4)
    try:
        runs = [subprocess.Popen([sys.executable, "-c", script, url, at]) for _ in range(4)]
        assert [run.wait(120) for run in runs] == [0, 0, 0, 0]
        engine = open_engine(url)
        with engine.connect() as connection:
            version = connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
        engine.dispose()
        assert version == sorted(p.name[:4] for p in (MIGRATIONS / "versions").glob("0*.py"))[-1]
    finally:
        if fresh is not None and POSTGRES_URL:
            _drop_postgres(fresh, POSTGRES_URL)


def test_the_migrated_schema_is_the_one_the_code_declares(engine: Engine) -> None:
    """A table, column or index declared in ``database/tables.py`` without its migration
    (or the reverse) would pass on a fresh test database and fail on a deployed one."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from ehx.database.tables import metadata

    with engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), metadata)
    assert differences == []
