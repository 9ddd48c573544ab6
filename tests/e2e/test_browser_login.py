"""Signing in on the login page in a real browser, with authentication on: Debian's Chromium
driven by Playwright against the real service (uvicorn on a loopback port, SQLite, embedded
Qdrant, the MiniLM embedder, llama.cpp with the tiny random GGUF).

A signed-in person is sent from a page to the login form and back, searches (the answer
streams through a POST that must carry the CSRF token), uploads with drag-and-drop (an XHR
that must too), deletes with a plain form, and signs out."""

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

pw = pytest.importorskip("playwright.sync_api")
from playwright.sync_api import Browser, Page, expect  # noqa: E402

from app.main import create_app  # noqa: E402
from enclave.access.users import create_user  # noqa: E402
from enclave.embedder import Embedder  # noqa: E402
from tests.conftest import index_folder  # noqa: E402
from tests.support.apps import built_services  # noqa: E402
from tests.support.browsers import MARKS, copy_samples, drop_file, page_settings, screenshot  # noqa: E402
from tests.support.serving import serving  # noqa: E402

PASSWORD = "correct horse battery staple"
HOLIDAY = "How many days of holiday do I get each year?"


pytestmark = MARKS


@pytest.fixture(scope="module")
def base_url(
    tmp_path_factory: pytest.TempPathFactory, tiny_gguf: Path, embedder: Embedder
) -> Iterator[str]:
    tmp = tmp_path_factory.mktemp("browser-login")
    settings = page_settings(tmp, tiny_gguf, auth="on")
    docs = copy_samples(tmp / "docs", "employee-handbook.md")
    report = index_folder(settings, embedder, docs)  # no groups: "dana" sees every group
    assert not report.failed, report.as_json()
    with built_services(settings, embedder) as services:
        create_user(services.database, "dana", PASSWORD, ["*"], ["search", "ask", "ingest"])
        with serving(create_app(services=services)) as url:
            yield url


def sign_in(page: Page, password: str = PASSWORD) -> None:
    page.get_by_label("User name").fill("dana")
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def test_sign_in_search_upload_and_sign_out(page: Page) -> None:
    page.goto("/library")
    page.wait_for_url(re.compile(r"/login\?next=%2Flibrary$"))
    sign_in(page, "not the password at all")
    expect(page.locator("#login-error")).to_have_text("Wrong user name or password.")
    screenshot(page, "login.png")
    sign_in(page)
    page.wait_for_url(re.compile(r"/library$"))
    expect(page.locator("#signed-in-as")).to_contain_text("dana")
    cookies = {c["name"]: c for c in page.context.cookies()}
    session = cookies["enclave_session"]
    assert session["httpOnly"] and session["sameSite"] == "Lax"

    # Search; the answer streams in through POST /api/ask with the page's CSRF token.
    page.goto("/")
    page.fill("#q", HOLIDAY)
    page.press("#q", "Enter")
    page.wait_for_url(re.compile(r"/\?q="))
    expect(page.locator("#results .result").first.locator("h3")).to_contain_text(
        "Employee Handbook"
    )
    expect(page.locator("#answer")).to_have_attribute("data-state", "done")
    expect(page.locator("#answer .error")).to_have_count(0)

    # Upload by drag-and-drop (an XHR with the token), then delete with the plain form.
    page.goto("/library")
    drop_file(page, "signed-in-notes.txt", "Notes written by a signed-in person.\n")
    expect(page.locator("#upload-status")).to_have_attribute("data-state", "searchable")
    page.once("dialog", lambda dialog: dialog.accept())
    page.locator("#documents tbody tr", has_text="signed-in-notes.txt").get_by_role(
        "button", name=re.compile("Delete")
    ).click()
    page.wait_for_url(re.compile(r"/library$"))
    expect(page.locator("#documents tbody tr", has_text="signed-in-notes.txt")).to_have_count(0)

    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(re.compile(r"/login$"))
    page.goto("/")
    page.wait_for_url(re.compile(r"/login"))  # signed out: back to the form


def test_the_login_page_works_with_javascript_off(browser: Browser, base_url: str) -> None:
    context = browser.new_context(base_url=base_url, java_script_enabled=False)
    try:
        page = context.new_page()
        page.goto("/?q=holiday")
        page.wait_for_url(re.compile(r"/login\?next="))
        sign_in(page)
        page.wait_for_url(re.compile(r"/\?q=holiday$"))
        expect(page.locator("#results .result").first).to_be_visible()
    finally:
        context.close()
