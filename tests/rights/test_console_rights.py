"""The DPO's Subject access page in the console."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine

from ehx.organisations.people import Accounts, Role
from ehx.schemas import KeyStore
from tests.consent.fakes import AMINA, KHANS
from tests.flows import khans_on_file
from tests.serving import serve, signed_in

pytestmark = pytest.mark.kafka
PASSWORD = "correct horse battery staple"


def test_the_dpo_assembles_a_request_and_downloads_the_redacted_copy(
    kafka_bootstrap: str, sqlite_engine: Engine, keys: KeyStore
) -> None:
    khans_on_file(sqlite_engine, khans=KHANS)
    accounts = Accounts(sqlite_engine)
    accounts.add("dpo-console", Role.DPO, PASSWORD)
    accounts.add("auditor-console", Role.AUDITOR, PASSWORD)
    with serve(kafka_bootstrap, sqlite_engine, keys) as base:
        with signed_in(base, "auditor-console", PASSWORD) as http:
            refused = http.get("/rights", params={"person": AMINA})
            assert refused.status_code == 403 and "data protection officer" in refused.text
        with signed_in(base, "dpo-console", PASSWORD) as http:
            page = http.get("/rights", params={"person": AMINA})
            assert page.status_code == 200 and "Held about Amina Khan" in page.text
            copy = http.get(f"/rights/{AMINA}/subject-access.html")
            assert copy.headers["content-disposition"].startswith("attachment")
            assert "Amina" in copy.text and "Yusuf" not in copy.text
            assert "[redacted: third party]" in copy.text
            unknown = http.get("/rights", params={"person": "p99999999"})
            assert unknown.status_code == 404 and "nothing is held" in unknown.text
