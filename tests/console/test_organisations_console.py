"""Two NHS trusts and two housing providers in the console: each practitioner, signed in
with an account of their own organisation, reads about the people it serves and no one
else in the family."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine

from ehx.schemas import KeyStore
from tests.flows import (
    AMINAS_TRUST,
    MARYAMS_TRUST,
    NEW_LANDLORD,
    OLD_LANDLORD,
    directory_loaded,
    khans_served_by_two_of_each,
)
from tests.people import PASSWORD, registered
from tests.serving import serve, signed_in

pytestmark = pytest.mark.kafka

KHANS = re.compile(r"(Amina|Maryam|Yusuf|Imran) Khan")


@pytest.fixture
def site(kafka_bootstrap: str, sqlite_engine: Engine, keys: KeyStore) -> Iterator[tuple[str, str]]:
    family = khans_served_by_two_of_each(sqlite_engine)
    directory_loaded(sqlite_engine)
    with serve(kafka_bootstrap, sqlite_engine, keys) as base:
        yield base, family


def names_on_page(base: str, username: str, family: str) -> set[str]:
    with signed_in(base, username, PASSWORD) as http:
        page = http.get(f"/families/{family}")
        assert page.status_code == 200, page.text
        return set(KHANS.findall(page.text))


def test_each_trust_and_landlord_reads_only_the_people_it_serves(
    site: tuple[str, str], sqlite_engine: Engine
) -> None:
    base, family = site

    def reads(of: str) -> set[str]:
        return names_on_page(base, registered(sqlite_engine, f"pr-{of}", of), family)

    assert reads(f"health:{AMINAS_TRUST}") == {"Amina"}
    assert reads(f"health:{MARYAMS_TRUST}") == {"Maryam"}
    assert reads(f"housing:{NEW_LANDLORD}")  # the family are its tenants now
    assert reads(f"housing:{OLD_LANDLORD}") == set()  # they moved on before it was told more
