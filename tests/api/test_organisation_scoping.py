"""Two NHS trusts and two housing providers, one family: each reads only about the
people it serves, over the API; the early help hub reads about the whole family."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import Engine

from ehx.api import AgencyCredentials
from ehx.schemas.vocabulary import Recipient
from tests.flows import (
    AMINAS_TRUST,
    MARYAMS_TRUST,
    NEW_LANDLORD,
    OLD_LANDLORD,
    directory_loaded,
    khans_served_by_two_of_each,
)
from tests.serving import auth

pytestmark = pytest.mark.kafka

Client = tuple[httpx.Client, AgencyCredentials]


def names_read(http: httpx.Client, token: str, family: str) -> set[str]:
    answer = http.get(
        f"/v1/families/{family}/timeline", params={"reader": "pr-1"}, headers=auth(token)
    )
    assert answer.status_code == 200, answer.text
    return {p["name"] for e in answer.json() for p in e["people"]}


@pytest.fixture
def family(sqlite_engine: Engine) -> str:
    """The Khans with two trusts and two landlords, and the directory that names them."""
    found = khans_served_by_two_of_each(sqlite_engine)
    directory_loaded(sqlite_engine)
    return found


def test_each_trust_reads_only_about_its_own_patients(client: Client, family: str) -> None:
    http, credentials = client
    aminas = credentials.issue(Recipient.HEALTH, "RQ3 EPR", organisation=AMINAS_TRUST)
    maryams = credentials.issue(Recipient.HEALTH, "RRK EPR", organisation=MARYAMS_TRUST)
    assert names_read(http, aminas, family) == {"Amina Khan"}
    assert names_read(http, maryams, family) == {"Maryam Khan"}
    legacy = credentials.issue(Recipient.HEALTH, "old EPR")
    refused = http.get(
        f"/v1/families/{family}/timeline", params={"reader": "pr-1"}, headers=auth(legacy)
    )
    assert refused.status_code == 403 and "--org CODE" in refused.json()["detail"]


def test_the_landlord_of_the_tenancy_reads_about_its_tenants_and_the_last_one_stops(
    client: Client, family: str
) -> None:
    http, credentials = client
    old = credentials.issue(Recipient.HOUSING, "council", organisation=OLD_LANDLORD)
    new = credentials.issue(Recipient.HOUSING, "Oakleaf", organisation=NEW_LANDLORD)
    assert names_read(http, new, family)  # the family are its tenants now
    assert names_read(http, old, family) == set()  # they have moved on
    hub = credentials.issue(Recipient.EARLY_HELP, "early help hub")  # the whole family
    whole = http.get(
        f"/v1/families/{family}/timeline", params={"reader": "ew-1"}, headers=auth(hub)
    ).json()
    assert len({p["person_id"] for e in whole for p in e["people"]}) == 4
