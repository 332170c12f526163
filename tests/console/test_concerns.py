"""A DSL raises a concern from the console: it goes to the MASH as a harm assertion.

On a broker of its own: the assertion names the Khans' family id, which every test's
Khans share, and the session broker's consent topic is read by other tests' services.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine

from ehx.broker.embedded import EmbeddedBroker
from ehx.broker.topics import Topic
from ehx.organisations.people import Accounts, Role
from ehx.schemas import KeyStore
from ehx.schemas.vocabulary import Recipient
from tests.flows import MARYAMS_SCHOOL, YUSUFS_SCHOOL, directory_loaded, khans_on_file
from tests.helpers import read_json
from tests.serving import csrf_of, serve, signed_in

pytestmark = pytest.mark.kafka
PASSWORD = "correct horse battery staple"


@pytest.fixture
def own_broker() -> Iterator[str]:
    with EmbeddedBroker() as broker:
        yield broker.bootstrap


def test_a_dsl_raises_a_concern_about_their_own_pupil_and_it_goes_to_the_mash(
    own_broker: str, sqlite_engine: Engine, keys: KeyStore
) -> None:
    family = khans_on_file(sqlite_engine)
    directory_loaded(sqlite_engine)
    accounts = Accounts(sqlite_engine)
    accounts.add("dsl-sparkhill", Role.PRACTITIONER, PASSWORD, Recipient.SCHOOLS, YUSUFS_SCHOOL)
    accounts.add("dsl-ashfield", Role.PRACTITIONER, PASSWORD, Recipient.SCHOOLS, MARYAMS_SCHOOL)
    accounts.add("sw-concern", Role.SCREENER, PASSWORD)
    with serve(own_broker, sqlite_engine, keys) as base:
        with signed_in(base, "dsl-sparkhill", PASSWORD) as http:
            page = http.get(f"/families/{family}")
            assert "Raise a concern" in page.text and "Yusuf Khan" in page.text
            [yusuf] = [p for p in _options(page.text) if "Yusuf" in p[1]]
            url, token = f"/families/{family}/concern", csrf_of(page.text)
            said = "Yusuf told his teacher his mum's partner hit him last night."
            # Without the form's token, or without saying what was seen: refused, saying why.
            assert http.post(url, data={"person_id": yusuf[0], "reason": said}).status_code == 403
            vague = http.post(url, data={"person_id": yusuf[0], "reason": "worried", "csrf": token})
            assert vague.status_code == 422 and "what you saw" in vague.text
            sent = http.post(url, data={"person_id": yusuf[0], "reason": said, "csrf": token})
            assert sent.status_code == 303
            assert "gone to the MASH" in http.get(sent.headers["location"]).text
        # Another school's DSL cannot raise one about a pupil not theirs.
        with signed_in(base, "dsl-ashfield", PASSWORD) as http:
            token = csrf_of(http.get(f"/families/{family}").text)
            other = http.post(url, data={"person_id": yusuf[0], "reason": said, "csrf": token})
            assert other.status_code == 403 and "call the MASH" in other.text
        # The screening team receives concerns; it does not raise them here.
        with signed_in(base, "sw-concern", PASSWORD) as http:
            page = http.get(f"/families/{family}")
            assert "Raise a concern" not in page.text
    [(_, assertion)] = asyncio.run(
        read_json(own_broker, Topic.CONSENT, lambda b: b.get("kind") == "harm_assertion")
    )
    assert (assertion["person_id"], assertion["family_id"]) == (yusuf[0], family)
    assert (assertion["asserted_by"], assertion["asserted_by_agency"]) == (
        "dsl-sparkhill",
        "schools",
    )
    assert assertion["reason"] == said


def _options(html: str) -> list[tuple[str, str]]:
    """(value, label) of the concern form's choices of person."""

    return re.findall(r'<option value="(p[^"]+)">([^<]+)</option>', html)


def test_the_families_list_names_the_people_a_dsls_view_names_and_records_the_read(
    own_broker: str, sqlite_engine: Engine, keys: KeyStore
) -> None:
    family = khans_on_file(sqlite_engine)
    directory_loaded(sqlite_engine)
    Accounts(sqlite_engine).add(
        "dsl-list", Role.PRACTITIONER, PASSWORD, Recipient.SCHOOLS, YUSUFS_SCHOOL
    )
    with serve(own_broker, sqlite_engine, keys) as base, signed_in(base, "dsl-list", PASSWORD) as h:
        listed = h.get("/families").text
    # Their own pupil, by name and age; his sister at another school is not theirs to name.
    assert re.search(rf"{family}</a>: <span class=\"people\">Yusuf Khan, \d+", listed)
    assert "Maryam" not in listed
    [(_, read)] = asyncio.run(
        read_json(own_broker, Topic.AUDIT, lambda b: b.get("action") == "families.read")
    )
    assert read["actor"] == "dsl-list" and family in read["subject_ids"]
    assert len(read["subject_ids"]) == 2  # the family and Yusuf: whom the page named
