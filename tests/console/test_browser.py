"""The console in a real browser: Playwright driving Debian's Chromium against ``ehx serve``.

A screener signs in, opens the most urgent alert, reads the family's timeline and records
a decision; a school's practitioner sees only the school view of the same family; an
auditor finds the screener's read on the ledger. Every page is checked with axe-core (no
serious or critical violation) and photographed into ``test-artifacts/``.

Needs ``/usr/bin/chromium`` (``.ci/run`` installs Debian's package); without it these
tests skip, unless ``EHX_REQUIRE_BROWSER=1`` makes that a failure.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from ehx.organisations.people import Accounts, Role
from ehx.schemas import KeyStore
from ehx.schemas.vocabulary import Recipient
from tests.conftest import eventually_now
from tests.flows import YUSUFS_SCHOOL, audit_service, directory_loaded, khans_with_a_plan
from tests.serving import serve

ARTIFACTS = Path(__file__).parents[2] / "test-artifacts"
PASSWORD = "correct horse battery staple"

pytestmark = [pytest.mark.kafka, pytest.mark.browser, pytest.mark.slow]


def accessible(page: Any, name: str) -> None:
    """Photograph the page and fail on any serious or critical axe-core violation."""
    from axe_playwright_python.sync_playwright import Axe

    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
    found = Axe().run(page).response["violations"]
    bad = [
        (v["id"], v["impact"], len(v["nodes"]))
        for v in found
        if v["impact"] in ("serious", "critical")
    ]
    assert not bad, f"{name}: accessibility violations {bad}"


def sign_in(browser: Any, base: str, username: str, *, tablet: bool = False) -> Any:
    size = {"width": 768, "height": 1024} if tablet else {"width": 1280, "height": 900}
    context = browser.new_context(base_url=base, viewport=size)
    page = context.new_page()
    page.goto("/login")
    page.get_by_label("User name").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    return page


def test_screener_school_and_auditor_each_see_what_their_role_allows(
    browser: Any, kafka_bootstrap: str, sqlite_engine: Engine, keys: KeyStore
) -> None:
    family, _ = khans_with_a_plan(sqlite_engine)
    run = uuid.uuid4().hex[:6]
    screener, school, auditor = f"sw-{run}", f"dsl-{run}", f"dpo-{run}"
    accounts = Accounts(sqlite_engine)
    directory_loaded(sqlite_engine)
    accounts.add(screener, Role.SCREENER, PASSWORD)
    accounts.add(school, Role.PRACTITIONER, PASSWORD, Recipient.SCHOOLS, YUSUFS_SCHOOL)
    accounts.add(auditor, Role.AUDITOR, PASSWORD)

    with (
        audit_service(kafka_bootstrap, sqlite_engine, keys.ledger_private_key()),
        serve(kafka_bootstrap, sqlite_engine, keys) as base,
    ):
        page = sign_in(browser, base, screener)
        page.wait_for_url(f"{base}/")
        accessible(page, "1-queue")
        first = page.locator("tbody tr").first
        assert "significant harm" in first.inner_text()
        first.get_by_role("link").click()  # the most urgent alert's family
        page.wait_for_url(f"{base}/families/{family}")
        assert page.get_by_role("heading", name="Timeline across agencies").is_visible()
        assert "child protection plan" in page.locator(".timeline").inner_text().lower()
        assert "Why you may see it" in page.locator(".timeline").inner_text()
        accessible(page, "2-family-as-mash")
        page.get_by_role("button", name="Take this alert").first.click()
        page.wait_for_url(f"{base}/families/{family}#decision")
        assert f"Taken by {screener}" in page.locator("main").inner_text()
        page.get_by_label("Screening decision").first.select_option("s47_enquiry")
        page.get_by_label("Why").first.fill("Present at a high-risk incident while on a plan.")
        page.get_by_role("button", name="Record decision").first.click()
        page.wait_for_url(f"{base}/families/{family}#decision")
        assert (
            f"s47 enquiry by {screener}" in page.locator("#decision ~ *, .alert").first.inner_text()
        )

        page = sign_in(browser, base, school, tablet=True)  # a tablet, in portrait
        page.wait_for_url(f"{base}/families")
        page.get_by_role("link", name=family).click()
        text = page.locator("main").inner_text()
        assert "Operation Encompass" in text
        assert "child protection plan" not in text.lower()
        accessible(page, "3-family-as-school-on-a-tablet")
        # Nothing runs off the side of a tablet's screen.
        assert page.evaluate("document.documentElement.scrollWidth") <= 768
        # The DSL's Operation Encompass list: their pupil's notification, acknowledged.
        page.get_by_role("link", name="Operation Encompass").click()
        page.wait_for_url(f"{base}/encompass")
        accessible(page, "3b-encompass-as-school")
        page.get_by_role("button", name="Acknowledge").first.click()
        page.wait_for_url(f"{base}/encompass?acknowledged=1")
        assert f"by {school}" in page.locator("table").inner_text()

        page = sign_in(browser, base, auditor)
        page.wait_for_url(f"{base}/audit")

        def read_on_the_ledger() -> bool:  # the screener's read reaches the ledger
            page.get_by_label("Family or person id").fill(family)
            page.get_by_role("button", name="Look up").click()
            return screener in page.locator("table").first.inner_text()

        eventually_now(read_on_the_ledger, 30, every=1)
        assert "The chain holds" in page.locator("main").inner_text()
        accessible(page, "4-audit")
