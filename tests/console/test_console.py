"""The console over HTTP: sign-in, roles and views, CSRF, decisions, and refusals on the ledger.

``ehx serve`` runs on loopback against the session's real broker, with the Khan family
on file (Maryam on a child protection plan, so the MASH holds an override and an alert).
"""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import Engine

from ehx.alerts.store import AlertStore
from ehx.broker.topics import Topic
from ehx.consent import load_policy
from ehx.linker.store import LinkReview, LinkStore
from ehx.organisations.people import Accounts, Role
from ehx.schemas import KeyStore
from ehx.schemas.vocabulary import Recipient
from tests.flows import MARYAMS_SCHOOL, YUSUFS_SCHOOL, directory_loaded, khans_with_a_plan
from tests.helpers import read_json
from tests.serving import csrf_of, serve
from tests.serving import signed_in as console_session

pytestmark = pytest.mark.kafka
PASSWORD = "correct horse battery staple"


@pytest.fixture
def site(
    kafka_bootstrap: str, sqlite_engine: Engine, keys: KeyStore
) -> Iterator[tuple[str, str, dict[str, str]]]:
    """(base URL, family id, usernames by role) with the Khans on file."""
    family, _ = khans_with_a_plan(sqlite_engine)
    run = uuid.uuid4().hex[:6]
    accounts = Accounts(sqlite_engine)
    names = {
        "screener": f"sw-{run}",
        "manager": f"mgr-{run}",
        "school": f"dsl-{run}",
        "other school": f"dsl2-{run}",
        "auditor": f"dpo-{run}",
        "admin": f"admin-{run}",
        "encompass officer": f"la-{run}",
        "police": f"pc-{run}",
    }
    directory_loaded(sqlite_engine)
    accounts.add(names["screener"], Role.SCREENER, PASSWORD)
    accounts.add(names["manager"], Role.MANAGER, PASSWORD)
    accounts.add(names["school"], Role.PRACTITIONER, PASSWORD, Recipient.SCHOOLS, YUSUFS_SCHOOL)
    accounts.add(
        names["other school"], Role.PRACTITIONER, PASSWORD, Recipient.SCHOOLS, MARYAMS_SCHOOL
    )
    accounts.add(names["auditor"], Role.AUDITOR, PASSWORD)
    accounts.add(names["admin"], Role.ADMIN, PASSWORD)
    accounts.add(names["encompass officer"], Role.ENCOMPASS_OFFICER, PASSWORD)
    accounts.add(names["police"], Role.PRACTITIONER, PASSWORD, Recipient.POLICE)
    with serve(kafka_bootstrap, sqlite_engine, keys) as base:
        yield base, family, names


class FakeClock:
    """A clock the test moves: a session's hours pass in no time."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@contextmanager
def signed_in(base: str, username: str) -> Iterator[httpx.Client]:
    with console_session(base, username, PASSWORD) as http:
        yield http


def test_nothing_without_signing_in_and_a_wrong_password_signs_nobody_in(
    site: tuple[str, str, dict[str, str]],
) -> None:
    base, family, names = site
    with httpx.Client(base_url=base) as http:
        assert http.get("/").status_code == 401
        assert http.get(f"/families/{family}").status_code == 401
        token = csrf_of(http.get("/login").text)
        wrong = http.post(
            "/login", data={"username": names["screener"], "password": "guess" * 3, "csrf": token}
        )
        assert wrong.headers["location"] == "/login?failed=true"
        assert http.get("/").status_code == 401
        # A login form posted from elsewhere (no token from our page) is refused.
        forged = httpx.post(
            f"{base}/login", data={"username": names["screener"], "password": PASSWORD}
        )
        assert forged.status_code == 403


def test_a_screener_reads_the_queue_and_the_family_and_records_a_decision(
    site: tuple[str, str, dict[str, str]], sqlite_engine: Engine
) -> None:
    base, family, names = site
    with signed_in(base, names["screener"]) as http:
        queue = http.get("/")
        assert queue.status_code == 200
        assert family in queue.text and "significant harm" in queue.text
        # The family's people as the MASH's views name them, with their ages.
        assert re.search(r"Maryam Khan, \d+", queue.text)
        page = http.get(f"/families/{family}")
        assert page.status_code == 200
        assert "Why you may see it" in page.text and "significant harm override" in page.text
        assert "child protection plan" in page.text.lower()  # the MASH holds the flag
        assert "Think Family problems" in page.text and "Suggested level of need" in page.text
        assert "% sure" in page.text  # how sure each link is
        [alert] = [
            a
            for a in AlertStore(sqlite_engine).queue()
            if a["family_id"] == family and a["kind"] == "significant_harm"
        ]
        # Without the form's token the decision is refused; with it, recorded.
        url = f"/alerts/{alert['alert_id']}/decision"
        why = "Maryam is on a plan and was present at a high-risk incident."
        bare = http.post(url, data={"outcome": "s47_enquiry", "rationale": why})
        assert bare.status_code == 403
        token = csrf_of(page.text)
        # The screener takes it first: in screening, in their name.
        taken = http.post(f"/alerts/{alert['alert_id']}/take", data={"csrf": token})
        assert taken.status_code == 303
        assert AlertStore(sqlite_engine).get(alert["alert_id"])["screened_by"] == names["screener"]
        assert f"Taken by {names['screener']}" in http.get(f"/families/{family}").text
        # A decision without its reasons is refused, saying so; with them, recorded.
        unexplained = http.post(
            url, data={"outcome": "s47_enquiry", "rationale": "s47", "csrf": token}
        )
        assert unexplained.status_code == 422 and "say why" in unexplained.text
        done = http.post(url, data={"outcome": "s47_enquiry", "rationale": why, "csrf": token})
        assert done.status_code == 303
        decided = AlertStore(sqlite_engine).get(alert["alert_id"])
        assert (decided["decision"], decided["decided_by"]) == ("s47_enquiry", names["screener"])
        assert decided["rationale"] == why
        assert f"Why: {why}" in http.get(f"/families/{family}").text
    # The agencies whose records the case drew on are told what was decided.
    [told] = AlertStore(sqlite_engine).outcomes("police")
    assert (told["family_id"], told["outcome"]) == (family, "s47_enquiry") and told["records"]
    with signed_in(base, names["police"]) as http:
        outcomes = http.get("/outcomes").text
        assert "s47 enquiry" in outcomes and told["records"][0] in outcomes


def test_only_a_mash_manager_closes_a_significant_harm_alert_with_no_further_action(
    site: tuple[str, str, dict[str, str]], sqlite_engine: Engine
) -> None:
    base, family, names = site
    [alert] = [
        a
        for a in AlertStore(sqlite_engine).queue()
        if a["family_id"] == family and a["kind"] == "significant_harm"
    ]
    url = f"/alerts/{alert['alert_id']}/decision"
    nfa = {"outcome": "no_further_action", "rationale": "Plan reviewed; risk is managed."}
    with signed_in(base, names["screener"]) as http:
        page = http.get(f"/families/{family}")
        refused = http.post(url, data={**nfa, "csrf": csrf_of(page.text)})
        assert refused.status_code == 403 and "only by a MASH manager" in refused.text
    assert AlertStore(sqlite_engine).get(alert["alert_id"])["status"] != "decided"
    with signed_in(base, names["manager"]) as http:
        page = http.get(f"/families/{family}")
        done = http.post(url, data={**nfa, "csrf": csrf_of(page.text)})
        assert done.status_code == 303
    decided = AlertStore(sqlite_engine).get(alert["alert_id"])
    assert (decided["decision"], decided["decided_by"]) == ("no_further_action", names["manager"])


def test_a_long_timeline_shows_its_latest_page_and_links_to_the_earlier_entries(
    site: tuple[str, str, dict[str, str]],
    sqlite_engine: Engine,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import ehx.console.web

    base, family, _ = site
    worker = f"ew-{uuid.uuid4().hex[:6]}"
    Accounts(sqlite_engine).add(worker, Role.PRACTITIONER, PASSWORD, Recipient.EARLY_HELP)

    def picture(page: str) -> str:
        """The level of need and the Think Family grid: the page above the timeline."""
        return page[page.index("Suggested level of need") : page.index('id="timeline"')]

    def members(page: str) -> str:
        return page[page.index('id="members"') : page.index('id="think-family"')]

    with signed_in(base, worker) as http:
        whole = http.get(f"/families/{family}").text
        assert "Earlier entries" not in whole  # a short timeline is one page
        count = whole.count('<li class="entry')
        assert count >= 3
        monkeypatch.setattr(ehx.console.web, "TIMELINE_PAGE", count - 1)
        latest = http.get(f"/families/{family}").text
        assert latest.count('<li class="entry') == count - 1
        assert f"{count - 1} entries, oldest first, with earlier ones before them" in latest
        # The family's level of need and problems are still the whole timeline's.
        grid = picture(whole)
        assert picture(latest).replace(members(latest), "") == grid.replace(members(whole), "")
        link = re.search(r'<a href="\?(before=[^"]+)">Earlier entries</a>', latest)
        assert link, "no link to the earlier entries"
        earlier = http.get(f"/families/{family}?{link.group(1)}").text
        assert earlier.count('<li class="entry') == 1
        assert "Back to the latest entries" in earlier and "Earlier entries" not in earlier
        assert http.get(f"/families/{family}?before=nope").status_code == 404


def test_a_school_sees_only_the_school_view_and_its_refusals_are_recorded(
    site: tuple[str, str, dict[str, str]], kafka_bootstrap: str
) -> None:
    base, family, names = site
    with signed_in(base, names["school"]) as http:
        assert http.get("/").status_code == 403  # the queue is the screening team's
        # In a browser, a refusal is a page in plain words, not JSON.
        page = http.get("/", headers={"Accept": "text/html"})
        assert page.status_code == 403 and page.headers["content-type"].startswith("text/html")
        assert "Not for this account" in page.text and "this page is for" in page.text
        assert http.get("/audit").status_code == 403
        page = http.get(f"/families/{family}")
        assert page.status_code == 200
        assert "Operation Encompass" in page.text  # the school's notification
        assert "child protection plan" not in page.text.lower()  # the MASH's, not theirs
        assert "significant harm override" not in page.text
        # Its own pupil, and not his sister: she is at another school.
        assert "Yusuf Khan" in page.text and "Maryam" not in page.text
    with signed_in(base, names["other school"]) as http:
        page = http.get(f"/families/{family}")
        assert "Maryam Khan" in page.text and "Yusuf" not in page.text
        # The chronology to download is the same view: her, not her brother.
        sheet = http.get(f"/families/{family}/chronology.csv")
        assert sheet.headers["content-type"].startswith("text/csv")
        lines = sheet.text.splitlines()
        assert lines[0] == "date,agency,what happened,people,why you may see it"
        assert len(lines) > 1 and "Maryam Khan" in sheet.text and "Yusuf" not in sheet.text
        # And as a page to print or save as PDF: each of those entries, and why.
        printed = http.get(f"/families/{family}/chronology").text
        assert printed.count("<tr>") - 1 == len(lines) - 1  # a row an entry, as the CSV
        assert "Maryam Khan" in printed and "Yusuf" not in printed
        assert "statutory notification" in printed and names["other school"] in printed
    refused = asyncio.run(
        read_json(
            kafka_bootstrap,
            Topic.AUDIT.value,
            lambda b: b["action"] == "access.refused" and b["actor"] == names["school"],
            count=2,
        )
    )
    assert len(refused) == 2


def test_each_school_acknowledges_only_its_own_pupils_notification_in_the_console(
    site: tuple[str, str, dict[str, str]], sqlite_engine: Engine
) -> None:
    """Issue 30's done-when, in the console: each school's DSL sees and acknowledges its
    own pupil's Operation Encompass notification only (the other's is 404); the MASH
    reads both; what no school meets, the local authority's officer works."""
    base, _, names = site
    store = AlertStore(sqlite_engine)
    to = {n["school_urn"]: n for n in store.notifications(datetime.now(UTC))}
    yusufs, maryams = to[YUSUFS_SCHOOL], to[MARYAMS_SCHOOL]

    def acknowledge(http: httpx.Client, notice: dict[str, str]) -> int:
        page = http.get("/encompass")
        url = f"/encompass/{notice['notification_id']}/acknowledge"
        return http.post(url, data={"csrf": csrf_of(page.text)}).status_code

    with signed_in(base, names["school"]) as http:
        page = http.get("/encompass").text
        assert yusufs["person_id"] in page and maryams["person_id"] not in page
        assert "Yusuf Khan" in page and "Maryam" not in page  # their pupil, by name
        assert acknowledge(http, maryams) == 404  # another school's: not found, never met
        assert acknowledge(http, yusufs) == 303
        assert f"by {names['school']}" in http.get("/encompass").text
    with signed_in(base, names["other school"]) as http:
        page = http.get("/encompass").text
        assert maryams["person_id"] in page and yusufs["person_id"] not in page
    with signed_in(base, names["screener"]) as http:
        page = http.get("/encompass").text
        assert yusufs["person_id"] in page and maryams["person_id"] in page
        assert acknowledge(http, maryams) == 403  # the MASH reads; the school acknowledges
    assert {
        n["person_id"]: n["acknowledged_by"] for n in store.notifications(datetime.now(UTC))
    } == {
        yusufs["person_id"]: names["school"],
        maryams["person_id"]: None,
    }

    # Unmet past the school's deputy, Maryam's goes to the local authority's officer.
    with signed_in(base, names["encompass officer"]) as http:
        assert maryams["person_id"] not in http.get("/encompass").text  # the school's, still
        store.escalate(load_policy().operation_encompass, datetime.now(UTC) + timedelta(days=30))
        page = http.get("/encompass").text
        assert maryams["person_id"] in page and yusufs["person_id"] not in page
        assert "Maryam Khan" in page  # the officer needs her name to find her school
        assert http.get("/families").status_code == 403  # no family's timeline
        assert acknowledge(http, maryams) == 303
    [met] = [n for n in store.notifications(datetime.now(UTC)) if n["school_urn"] == MARYAMS_SCHOOL]
    assert met["acknowledged_by"] == names["encompass officer"]


def test_an_auditor_reads_the_audit_page_but_no_family(
    site: tuple[str, str, dict[str, str]],
) -> None:
    base, family, names = site
    with signed_in(base, names["auditor"]) as http:
        assert http.get(f"/families/{family}").status_code == 403
        page = http.get("/audit", params={"family": family})
        assert page.status_code == 200
        assert "The chain holds" in page.text or "The ledger does not hold" in page.text
        sign_out = http.post("/logout", data={"csrf": csrf_of(page.text)})
        assert sign_out.status_code == 303
        assert http.get("/audit").status_code == 401


def test_an_administrator_sees_the_accounts_and_nothing_about_families(
    site: tuple[str, str, dict[str, str]], sqlite_engine: Engine
) -> None:
    base, family, names = site
    with signed_in(base, names["admin"]) as http:
        page = http.get("/admin")
        assert page.status_code == 200
        assert names["screener"] in page.text and "practitioner" in page.text
        assert "argon2" not in page.text  # the hashes stay in the database
        for path in ("/", f"/families/{family}", "/audit"):
            assert http.get(path).status_code == 403, path
    # A disabled account's live session ends at its next request.
    with signed_in(base, names["screener"]) as http:
        assert http.get("/").status_code == 200
        Accounts(sqlite_engine).disable(names["screener"])
        assert http.get("/").status_code == 401


def test_a_screener_decides_an_uncertain_link_and_the_decision_goes_on_ehx_links(
    site: tuple[str, str, dict[str, str]], sqlite_engine: Engine, kafka_bootstrap: str
) -> None:
    base, _, names = site
    evidence = {
        "weight": 18.8,
        "fields": [
            {"field": "given_name", "level": "variant", "weight": 4.1},
            {"field": "postcode", "level": "different", "weight": -3.0},
        ],
    }
    LinkStore(sqlite_engine).save_reviews(
        [LinkReview("p00000003", "p00000002", str(uuid.uuid4()), 18.8, evidence)]
    )
    with signed_in(base, names["screener"]) as http:
        page = http.get("/links")
        assert page.status_code == 200
        assert "p00000003 and p00000002" in page.text and "variant" in page.text
        sent = http.post(
            "/links/p00000003~p00000002",
            data={"same": "no", "reason": "different dates of birth", "csrf": csrf_of(page.text)},
        )
        assert sent.status_code == 303
    [(_, decision)] = asyncio.run(
        read_json(
            kafka_bootstrap,
            Topic.LINKS.value,
            lambda b: b["decided_by"] == names["screener"],
            count=1,
        )
    )
    assert decision["same_person"] is False and decision["review_id"] == "p00000003~p00000002"
    with signed_in(base, names["school"]) as http:
        assert http.get("/links").status_code == 403


def test_a_session_expires(kafka_bootstrap: str, sqlite_engine: Engine, keys: KeyStore) -> None:
    Accounts(sqlite_engine).add("sw-brief", Role.SCREENER, PASSWORD)
    clock = FakeClock()
    with (
        serve(kafka_bootstrap, sqlite_engine, keys, clock=clock) as base,
        signed_in(base, "sw-brief") as http,
    ):
        clock.advance(hours=7, minutes=59)
        assert http.get("/").status_code == 200
        clock.advance(minutes=2)  # past EHX_CONSOLE_SESSION_HOURS (8)
        assert http.get("/").status_code == 401


def test_signing_out_ends_the_session_for_a_copied_cookie_too(
    kafka_bootstrap: str, sqlite_engine: Engine, keys: KeyStore
) -> None:
    Accounts(sqlite_engine).add("sw-leaving", Role.SCREENER, PASSWORD)
    with serve(kafka_bootstrap, sqlite_engine, keys) as base, signed_in(base, "sw-leaving") as http:
        copied = dict(http.cookies)  # what someone at the next desk could have taken
        assert http.get("/").status_code == 200
        out = http.post("/logout", data={"csrf": csrf_of(http.get("/").text)})
        assert out.status_code == 303
        with httpx.Client(base_url=base, cookies=copied) as other:
            assert other.get("/").status_code == 401


def test_a_name_that_keeps_failing_is_locked_out_and_the_lock_lifts(
    kafka_bootstrap: str, sqlite_engine: Engine, keys: KeyStore
) -> None:
    # Finding 14: no throttling or lockout; password hashing ran on the event loop.
    Accounts(sqlite_engine).add("sw-target", Role.SCREENER, PASSWORD)
    clock = FakeClock()
    with (
        serve(kafka_bootstrap, sqlite_engine, keys, clock=clock) as base,
        httpx.Client(base_url=base, timeout=30) as http,
    ):

        def attempt(password: str) -> httpx.Response:
            token = csrf_of(http.get("/login").text)
            return http.post(
                "/login", data={"username": "sw-target", "password": password, "csrf": token}
            )

        for _ in range(5):
            assert attempt("guess" * 3).headers["location"] == "/login?failed=true"
        locked = attempt(PASSWORD)  # the right password, too late
        assert locked.status_code == 429 and "Sign-in is paused" in locked.text
        clock.advance(minutes=16)
        assert attempt(PASSWORD).status_code == 303  # signed in


def test_a_person_is_found_by_name_as_the_searcher_may_see_them(
    site: tuple[str, str, dict[str, str]], kafka_bootstrap: str
) -> None:
    """Issue 31, eighth finding: no search by name, date of birth or NHS number. The MASH
    finds anyone; a school only its own pupils; every search is on the ledger first."""
    base, _, names = site
    ask = {"name": "khan", "purpose": "checking before a strategy discussion"}
    with signed_in(base, names["screener"]) as http:
        page = http.get("/search", params=ask).text
        assert all(n in page for n in ("Amina Khan", "Maryam Khan", "Yusuf Khan"))
        unexplained = http.get("/search", params={"name": "khan"}).text
        assert "say why you are looking" in unexplained and "Yusuf Khan" not in unexplained
        born = http.get("/search", params={"born": "2019-09-23", "purpose": "check"}).text
        assert "Maryam Khan" in born and "Yusuf Khan" not in born
    with signed_in(base, names["school"]) as http:
        page = http.get("/search", params=ask).text
        assert "Yusuf Khan" in page and "Maryam" not in page and "Amina" not in page
    searched = asyncio.run(
        read_json(
            kafka_bootstrap,
            Topic.AUDIT.value,
            lambda b: b["action"] == "people.searched" and b["actor"] == names["school"],
            count=1,
        )
    )
    [(_, entry)] = searched
    assert entry["purpose"] == ask["purpose"] and len(entry["subject_ids"]) == 1
    assert "khan" not in str(entry).lower()  # the words searched for are not kept
