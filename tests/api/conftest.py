"""The API as an agency system reaches it: served on loopback, with its credentials."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy import Engine

from ehx.api import AgencyCredentials
from ehx.schemas import KeyStore
from tests.serving import serve


@pytest.fixture
def client(
    kafka_bootstrap: str, sqlite_engine: Engine, keys: KeyStore
) -> Iterator[tuple[httpx.Client, AgencyCredentials]]:
    """The API served by uvicorn on a loopback port, as an agency system would reach it."""
    with (
        serve(kafka_bootstrap, sqlite_engine, keys) as base,
        httpx.Client(base_url=base, timeout=30) as http,
    ):
        yield http, AgencyCredentials(sqlite_engine)
