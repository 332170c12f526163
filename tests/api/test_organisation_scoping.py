"""Two NHS trusts and two housing providers, one family: each reads only about the
people it serves, over the API; the early help hub reads about the whole family."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import Engine

from ehx.api import AgencyCredentials
from ehx.organisations.people import Accounts
from ehx.schemas.vocabulary import Recipient
from tests.flows import (
    AMINAS_TRUST,
    MARYAMS_TRUST,
    NEW_LANDLORD,
    OLD_LANDLORD,
    directory_loaded,
    khans_served_by_two_of_each,
)
from tests.people import registered
from tests.serving import auth

pytestmark = pytest.mark.kafka

Client = tuple[httpx.Client, AgencyCredentials]


def names_read(http: httpx.Client, token: str, family: str, reader: str) -> set[str]:
    answer = http.get(
        f"/v1/families/{family}/timeline", params={"reader": reader}, headers=auth(token)
    )
    assert answer.status_code == 200, answer.text
    return {p["name"] for e in answer.json() for p in e["people"]}


@pytest.fixture
def family(sqlite_engine: Engine) -> str:
    """The Khans with two trusts and two landlords, and the directory that names them."""
    found = khans_served_by_two_of_each(sqlite_engine)
    directory_loaded(sqlite_engine)
    return found


def test_each_trust_reads_only_about_its_own_patients(
    client: Client, family: str, sqlite_engine: Engine
) -> None:
    http, credentials = client
    aminas = credentials.issue(Recipient.HEALTH, "RQ3 EPR", organisation=AMINAS_TRUST)
    maryams = credentials.issue(Recipient.HEALTH, "RRK EPR", organisation=MARYAMS_TRUST)
    nurse = registered(sqlite_engine, "rn-1", f"health:{AMINAS_TRUST}")
    midwife = registered(sqlite_engine, "rm-1", f"health:{MARYAMS_TRUST}")
    assert names_read(http, aminas, family, nurse) == {"Amina Khan"}
    assert names_read(http, maryams, family, midwife) == {"Maryam Khan"}
    legacy = credentials.issue(Recipient.HEALTH, "old EPR")
    refused = http.get(
        f"/v1/families/{family}/timeline", params={"reader": nurse}, headers=auth(legacy)
    )
    assert refused.status_code == 403 and "--org CODE" in refused.json()["detail"]


def test_the_landlord_of_the_tenancy_reads_about_its_tenants_and_the_last_one_stops(
    client: Client, family: str, sqlite_engine: Engine
) -> None:
    http, credentials = client
    old = credentials.issue(Recipient.HOUSING, "council", organisation=OLD_LANDLORD)
    new = credentials.issue(Recipient.HOUSING, "Oakleaf", organisation=NEW_LANDLORD)
    officer = registered(sqlite_engine, "ho-new", f"housing:{NEW_LANDLORD}")
    former = registered(sqlite_engine, "ho-old", f"housing:{OLD_LANDLORD}")
    assert names_read(http, new, family, officer)  # the family are its tenants now
    assert names_read(http, old, family, former) == set()  # they have moved on
    hub = credentials.issue(Recipient.EARLY_HELP, "early help hub")  # the whole family
    worker = registered(sqlite_engine, "ew-1", "early_help")
    whole = http.get(
        f"/v1/families/{family}/timeline", params={"reader": worker}, headers=auth(hub)
    ).json()
    assert len({p["person_id"] for e in whole for p in e["people"]}) == 4


def test_the_reader_is_a_live_account_of_the_tokens_own_organisation(
    client: Client, family: str, sqlite_engine: Engine
) -> None:
    """``reader=`` names a person the exchange knows, of the organisation whose token it
    is: another trust's nurse, someone unknown, or a disabled account is refused (403,
    naming whose account would do) before anything is read."""
    http, credentials = client
    aminas = credentials.issue(Recipient.HEALTH, "RQ3 EPR", organisation=AMINAS_TRUST)
    nurse = registered(sqlite_engine, "rn-2", f"health:{AMINAS_TRUST}")
    other_trusts = registered(sqlite_engine, "rm-2", f"health:{MARYAMS_TRUST}")
    gone = registered(sqlite_engine, "rn-gone", f"health:{AMINAS_TRUST}")
    Accounts(sqlite_engine).disable(gone)
    url = f"/v1/families/{family}/timeline"
    for reader in (other_trusts, gone, "someone-made-up"):
        refused = http.get(url, params={"reader": reader}, headers=auth(aminas))
        assert refused.status_code == 403, reader
        assert f"not a live account of health:{AMINAS_TRUST}" in refused.json()["detail"]
        assert "Khan" not in refused.text
    assert names_read(http, aminas, family, nurse) == {"Amina Khan"}
