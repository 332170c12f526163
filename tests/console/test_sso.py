"""Single sign-on through a real OpenID provider (npm's oidc-provider, on loopback), in
Debian's Chromium: a school's DSL signs in at the provider and reads only her pupils;
someone whose organisation claim is missing, and someone whose account is disabled, are
refused with a page that says why."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine

from ehx.broker.embedded import free_port
from ehx.console.web import ConsoleSettings
from ehx.organisations.people import Accounts, Role
from ehx.schemas import KeyStore
from ehx.schemas.vocabulary import Recipient
from tests.flows import YUSUFS_SCHOOL, directory_loaded, khans_with_a_plan
from tests.oidc import CLIENT_SECRET, openid_provider
from tests.serving import serve

pytestmark = [pytest.mark.kafka, pytest.mark.browser, pytest.mark.slow]
PASSWORD = "correct horse battery staple"
RUN = uuid.uuid4().hex[:6]
DSL, NO_ORG, GONE = f"dsl-app-{RUN}", f"no-org-{RUN}", f"left-{RUN}"
PEOPLE = {
    DSL: {"groups": ["ehx-practitioner", "ehx-view-schools"], "organisation": "school:103512"},
    NO_ORG: {"groups": ["ehx-practitioner", "ehx-view-schools"]},
    GONE: {"groups": ["ehx-screener"]},
}


@pytest.fixture
def site(kafka_bootstrap: str, sqlite_engine: Engine, keys: KeyStore) -> Iterator[tuple[str, str]]:
    """(console URL, the Khans' family id), the console signing on through the provider."""
    family, _ = khans_with_a_plan(sqlite_engine)
    directory_loaded(sqlite_engine)
    console_port, provider_port = free_port(), free_port()
    callback = f"http://127.0.0.1:{console_port}/login/sso/callback"
    with openid_provider(provider_port, callback, PEOPLE) as issuer:
        settings = ConsoleSettings(
            secret="test-" + "x" * 40,
            oidc_issuer=issuer,
            oidc_client_id="ehx-console",
            oidc_client_secret=CLIENT_SECRET,
        )
        with serve(kafka_bootstrap, sqlite_engine, keys, settings, port=console_port) as base:
            yield base, family


def signed_on(browser: Any, base: str, name: str) -> Any:
    page = browser.new_page()
    page.goto(f"{base}/login")
    page.get_by_role("link", name="Sign in with your organisation's account").click()
    page.locator("input[name=login]").fill(name)  # the provider's own sign-in form
    page.locator("input[name=password]").fill("whatever the provider asks")
    page.locator("button[type=submit]").click()
    return page


def test_a_dsl_signs_in_at_her_provider_and_reads_only_her_pupils(
    browser: Any, site: tuple[str, str], sqlite_engine: Engine
) -> None:
    base, family = site
    page = signed_on(browser, base, DSL)
    page.wait_for_url(f"{base}/families")
    page.goto(f"{base}/families/{family}")
    text = page.locator("main").inner_text()
    assert "Yusuf Khan" in text and "Maryam" not in text  # her school's pupil only
    account = Accounts(sqlite_engine).get(DSL)
    assert account is not None
    assert (account.role, account.view, account.organisation) == (
        Role.PRACTITIONER,
        Recipient.SCHOOLS,
        YUSUFS_SCHOOL,
    )
    # The account made at sign-on has no password: it cannot sign in without the provider.
    assert Accounts(sqlite_engine).check(DSL, "") is None


def test_no_organisation_claim_is_refused_with_a_page_that_says_why(
    browser: Any, site: tuple[str, str]
) -> None:
    base, _ = site
    page = signed_on(browser, base, NO_ORG)
    page.wait_for_url(f"{base}/login/sso/callback*")
    alert = page.get_by_role("alert").inner_text()
    assert "did not say which organisation you work for" in alert
    assert page.goto(f"{base}/families").status == 401  # and she is not signed in


def test_a_disabled_account_stays_out_whatever_the_provider_says(
    browser: Any, site: tuple[str, str], sqlite_engine: Engine
) -> None:
    base, _ = site
    signed_on(browser, base, GONE).wait_for_url(f"{base}/")  # first, a working sign-on
    Accounts(sqlite_engine).disable(GONE)  # then they leave the MASH
    page = signed_on(browser, base, GONE)
    page.wait_for_url(f"{base}/login/sso/callback*")
    assert "is disabled" in page.get_by_role("alert").inner_text()
