"""Finding 15 of the security probe: tokens never expired and could not be listed or
revoked without the plaintext. Now each has an expiry, an id, and can be revoked by it."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, update
from typer.testing import CliRunner

from ehx.api import AgencyCredentials
from ehx.cli import app
from ehx.database import agency_credentials
from ehx.schemas.vocabulary import Recipient


def test_a_token_stops_working_when_it_expires(engine: Engine) -> None:
    credentials = AgencyCredentials(engine)
    token = credentials.issue(Recipient.SCHOOLS, "Anderton MIS", days=30)
    assert credentials.holder_for(token) is Recipient.SCHOOLS
    [listed] = credentials.listed()
    assert listed.expires_at is not None
    with engine.begin() as connection:
        connection.execute(
            update(agency_credentials).values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
    assert credentials.holder_for(token) is None
    assert credentials.listed()[0].state(datetime.now(UTC)) == "expired"


def test_tokens_are_listed_by_id_and_revoked_by_id_or_label_without_the_token(
    engine: Engine,
) -> None:
    credentials = AgencyCredentials(engine)
    police = credentials.issue(Recipient.POLICE, "Niche RMS")
    old, new = (credentials.issue(Recipient.SCHOOLS, "Anderton MIS") for _ in range(2))
    listed = {c.label: c for c in credentials.listed()}
    assert set(listed) == {"Niche RMS", "Anderton MIS"}
    assert all(police not in str(c) for c in credentials.listed())  # never the token
    [niche] = credentials.revoke_by(listed["Niche RMS"].token_id)
    assert niche.holder == "police" and credentials.holder_for(police) is None
    assert len(credentials.revoke_by("Anderton MIS")) == 2  # a retired system's tokens
    assert credentials.holder_for(old) is None and credentials.holder_for(new) is None
    assert credentials.revoke_by("Anderton MIS") == []  # nothing live is left to revoke


def test_the_operator_lists_and_revokes_from_the_command_line(
    sqlite_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EHX_DATABASE_URL", str(sqlite_engine.url))
    runner = CliRunner()
    issued = runner.invoke(
        app, ["agencies", "token", "housing", "--label", "Orchard", "--days", "7"]
    )
    assert issued.exit_code == 0, issued.output
    listing = runner.invoke(app, ["agencies", "list", "--json"])
    [token] = json.loads(listing.output)
    assert (token["holder"], token["label"], token["state"]) == ("housing", "Orchard", "live")
    assert issued.output.strip() not in listing.output
    revoked = runner.invoke(app, ["agencies", "revoke", token["id"]])
    assert revoked.exit_code == 0 and f"Revoked {token['id']}" in revoked.output
    unknown = runner.invoke(app, ["agencies", "revoke", token["id"]])
    assert unknown.exit_code == 1 and "No live token" in unknown.output
