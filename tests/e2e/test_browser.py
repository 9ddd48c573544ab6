"""The employees' web pages in a real browser: Debian's Chromium driven by Playwright, against
the real service (uvicorn on a loopback port, SQLite, embedded Qdrant, the MiniLM embedder and
llama.cpp with the tiny random GGUF). Screenshots go to tests/artifacts/ (git-ignored).

The tiny model writes noise, so its answers are checked for streaming and structure; the
citation marker → source link is checked with the shipped SmolLM2 (marked slow)."""

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pw = pytest.importorskip("playwright.sync_api")
from playwright.sync_api import Browser, Page, expect  # noqa: E402

from app.main import create_app  # noqa: E402
from app.services import Services  # noqa: E402
from enclave.embedder import Embedder  # noqa: E402
from enclave.settings import Settings  # noqa: E402
from tests.conftest import index_folder, make_settings  # noqa: E402
from tests.support.apps import built_services  # noqa: E402
from tests.support.browsers import MARKS, copy_samples, drop_file, page_settings, screenshot  # noqa: E402
from tests.support.serving import serving  # noqa: E402
from tests.support.sse import model_held  # noqa: E402

HOLIDAY = "How many days of holiday do I get each year?"
NONSENSE = "quantum chromodynamics of penguin migration"
UNIQUE = "zorblatt quokka"


pytestmark = MARKS


# --- the service and the browser -------------------------------------------------------------


@pytest.fixture(scope="module")
def services(
    tmp_path_factory: pytest.TempPathFactory, tiny_gguf: Path, embedder: Embedder
) -> Iterator[Services]:
    tmp = tmp_path_factory.mktemp("browser")
    settings = page_settings(tmp, tiny_gguf)
    docs = copy_samples(
        tmp / "docs", "employee-handbook.md", "travel-and-expenses.pdf", "it-security-policy.html"
    )
    report = index_folder(settings, embedder, docs)
    assert not report.failed and report.totals()["added"] == 3, report.as_json()
    with built_services(settings, embedder) as built:
        yield built


@pytest.fixture(scope="module")
def base_url(services: Services) -> Iterator[str]:
    with serving(create_app(services=services)) as url:
        yield url


def document_id(services: Services, file_name: str) -> str:
    documents, _ = services.library.documents(_all())
    found = [d.id for d in documents if d.source_path.endswith("/" + file_name)]
    assert found, f"{file_name} is not in the library"
    return found[0]


def _all() -> Any:
    from enclave.db.documents import DocumentFilter

    return DocumentFilter(limit=500)


def search(page: Page, query: str) -> None:
    page.goto("/")
    page.fill("#q", query)
    page.press("#q", "Enter")
    page.wait_for_url(re.compile(r"/\?q="))


# --- search and answer ---------------------------------------------------------------------


def test_search_shows_results_and_streams_an_answer(page: Page, services: Services) -> None:
    handbook = document_id(services, "employee-handbook.md")
    with model_held(services.generator) as gate:
        search(page, HOLIDAY)
        # Results are rendered by the server: title, source path, snippet with marked terms,
        # file type and date.
        first = page.locator("#results .result").first
        expect(first.locator("h3")).to_contain_text("Employee Handbook")
        expect(first.locator(".meta .open")).to_contain_text("employee-handbook.md")
        expect(first.locator(".tag")).to_have_text("md")
        expect(first.locator("time")).to_have_text(re.compile(r"^\d{4}-\d{2}-\d{2}$"))
        expect(first.locator(".snippet mark").first).to_have_text(
            re.compile("holiday", re.IGNORECASE)
        )
        # The sources arrive while the model cannot have produced a token yet.
        sources = page.locator("#answer .sources li")
        expect(sources.first).to_be_visible()
        expect(page.locator("#answer-text")).to_have_class(re.compile(r"\bstreaming\b"))
        assert services.generator.waiting == 1
        link = sources.first.locator("a")
        expect(link).to_have_attribute("href", f"/api/documents/{handbook}/file")
        gate.set()
    expect(page.locator("#answer")).to_have_attribute("data-state", "done")
    answer = page.locator("#answer-text")
    expect(answer).not_to_have_class(re.compile(r"\bstreaming\b"))
    assert answer.inner_text().strip()
    expect(page.locator(".feedback-controls button").first).to_be_visible()
    screenshot(page, "home-answer.png")

    # The source link serves the document itself.
    response = page.request.get(f"/api/documents/{handbook}/file")
    assert response.ok and "holiday" in response.text().lower()


def test_feedback_on_an_answer_is_stored_and_listed(page: Page, services: Services) -> None:
    search(page, HOLIDAY)
    expect(page.locator("#answer")).to_have_attribute("data-state", "done")
    page.fill(".feedback-controls .comment", "browser-test comment")
    page.get_by_role("button", name="Not helpful").click()
    expect(page.locator(".feedback-controls [role=status]")).to_have_text(
        "Thanks for the feedback."
    )
    page.goto("/admin/feedback")
    entry = page.locator("article.feedback", has_text="browser-test comment")
    expect(entry).to_contain_text(HOLIDAY)
    expect(entry.locator(".rating")).to_have_attribute("aria-label", "not helpful")


def test_follow_up_keeps_the_conversation_and_new_search_clears_it(page: Page) -> None:
    search(page, HOLIDAY)
    expect(page.locator("#answer")).to_have_attribute("data-state", "done")
    follow_up = page.locator("#followup-form")
    if "history" in (page.locator("#answer").get_attribute("data-ask-fields") or "").split(","):
        expect(follow_up).to_be_visible()
        page.fill("#followup", "And how many can I carry over?")
        page.press("#followup", "Enter")
        second = page.locator("#conversation .turn").nth(1)
        expect(second.locator(".question")).to_have_text("And how many can I carry over?")
        expect(second.locator(".feedback-controls")).to_be_visible()
        assert page.locator("#conversation .turn").count() == 2
    else:
        expect(follow_up).to_be_hidden()  # the API takes no history yet
    page.click("#new-search")
    page.wait_for_url(re.compile(r"/$"))
    expect(page.locator("#answer")).to_be_hidden()
    expect(page.locator("#q")).to_have_value("")
    expect(page.locator("#conversation .turn")).to_have_count(0)


def test_a_question_the_library_cannot_answer_abstains_with_the_closest_sources(
    page: Page,
) -> None:
    search(page, NONSENSE)
    expect(page.locator("#answer")).to_have_attribute("data-state", "done")
    notice = page.locator("#answer .abstained")
    expect(notice).to_be_visible()
    expect(notice).to_contain_text("Not in the knowledge base")
    # The closest sources, as sent with the abstention (or the top results when none came).
    closest = page.locator("#answer .sources li:visible")
    expect(closest.first).to_be_visible()
    expect(page.locator("#answer-text")).to_be_hidden()


def test_filters_are_in_the_url_and_an_empty_search_says_so(page: Page) -> None:
    search(page, "travel expenses and per diem")
    page.click(".filters summary")
    page.select_option("#filter-file-type", "pdf")
    page.click("text=Apply")
    page.wait_for_url(re.compile(r"file_type=pdf"))
    tags = page.locator("#results .tag").all_inner_texts()
    assert tags and set(tags) == {"pdf"}
    expect(page.locator("#results .result .open").first).to_have_attribute(
        "href", re.compile(r"/file#page=\d+$")
    )
    # A shared link reproduces the search; a date range nothing falls in shows the empty state.
    page.goto(page.url + "&modified_after=2999-01-01")
    expect(page.locator("#filter-file-type")).to_have_value("pdf")
    expect(page.locator("#results .empty")).to_contain_text("No documents match")
    expect(page.locator("#results .result")).to_have_count(0)


def test_search_works_with_javascript_off(browser: Browser, base_url: str) -> None:
    context = browser.new_context(base_url=base_url, java_script_enabled=False)
    try:
        page = context.new_page()
        page.goto("/")
        page.fill("#q", HOLIDAY)
        page.press("#q", "Enter")
        page.wait_for_url(re.compile(r"/\?q="))
        expect(page.locator("#results .result").first.locator("h3")).to_contain_text(
            "Employee Handbook"
        )
        expect(page.locator("#answer")).to_be_hidden()  # streaming needs JavaScript
        # The no-script button asks the server for the answer instead.
        page.get_by_role("button", name="Search and answer").click()
        page.wait_for_url(re.compile(r"answer=true"))
        expect(page.locator("#answer")).to_be_visible()
        assert page.locator("#answer-text").inner_text().strip()
    finally:
        context.close()


def test_slash_focuses_the_search_box(page: Page) -> None:
    page.goto("/library")
    page.keyboard.press("/")
    expect(page.locator("#library-q")).to_be_focused()
    page.goto("/?q=holiday")
    page.locator("body").click(position={"x": 5, "y": 400})
    page.keyboard.press("/")
    expect(page.locator("#q")).to_be_focused()


# --- library and jobs ----------------------------------------------------------------------


def test_upload_becomes_searchable_and_delete_removes_it(page: Page) -> None:
    page.goto("/library")
    expect(page.locator("#documents tbody tr")).to_have_count(3)
    drop_file(
        page,
        "field-notes.txt",
        f"Field notes. The {UNIQUE} lives in the north meadow and eats clover.\n",
    )
    status = page.locator("#upload-status")
    expect(status).to_have_attribute("data-state", "searchable")
    expect(page.locator("#upload-progress")).to_have_attribute("value", "100")
    expect(page.locator("#job-message")).to_contain_text("searchable")
    row = page.locator("#documents tbody tr", has_text="field-notes.txt")
    expect(row.locator(".status")).to_have_text("indexed")
    screenshot(page, "library.png")

    page.click("#job-message a")  # the job's page
    page.wait_for_url(re.compile(r"/jobs/[0-9a-f-]+$"))
    expect(page.locator("#job .status")).to_have_text("succeeded")
    expect(page.locator("#job-bar")).to_have_attribute("value", "100")
    screenshot(page, "job.png")
    page.goto("/jobs")
    expect(page.locator("#jobs tbody tr").first).to_contain_text("upload")

    search(page, UNIQUE)
    first = page.locator("#results .result").first
    expect(first.locator(".open")).to_contain_text("field-notes.txt")
    expect(first.locator(".snippet mark").first).to_have_text(re.compile("zorblatt", re.IGNORECASE))

    page.goto("/library")
    page.once("dialog", lambda dialog: dialog.accept())
    page.locator("#documents tbody tr", has_text="field-notes.txt").get_by_role(
        "button", name=re.compile("Delete")
    ).click()
    page.wait_for_url(re.compile(r"/library$"))
    expect(page.locator("#documents tbody tr", has_text="field-notes.txt")).to_have_count(0)
    expect(page.locator("#documents tbody tr")).to_have_count(3)
    search(page, UNIQUE)
    expect(page.locator("#results .open", has_text="field-notes.txt")).to_have_count(0)


def test_reindex_button_indexes_the_file_again(page: Page) -> None:
    page.goto("/library")
    row = page.locator("#documents tbody tr", has_text="employee-handbook.md")
    row.get_by_role("button", name=re.compile("Re-index")).click()
    page.wait_for_url(re.compile(r"/jobs/[0-9a-f-]+$"))
    expect(page.locator("#job .status")).to_have_text("succeeded")
    expect(page.locator("h1")).to_contain_text("Reindex job")
    search(page, HOLIDAY)
    expect(page.locator("#results .result").first.locator("h3")).to_contain_text(
        "Employee Handbook"
    )


def light(color: str) -> bool:
    """Whether a computed CSS `rgb(r, g, b)` colour is light."""
    r, g, b = (int(v) for v in re.findall(r"\d+", color)[:3])
    return 0.2126 * r + 0.7152 * g + 0.0722 * b > 128


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_pages_fit_a_phone_in_light_and_dark(browser: Browser, base_url: str, scheme: str) -> None:
    context = browser.new_context(
        base_url=base_url,
        viewport={"width": 390, "height": 844},
        color_scheme=scheme,  # type: ignore[arg-type]
        is_mobile=True,
        has_touch=True,
    )
    phone = context.new_page()
    try:
        for path, name in [(f"/?q={HOLIDAY}", "home"), ("/library", "library"), ("/jobs", "jobs")]:
            phone.goto(path)
            if name == "home":
                expect(phone.locator("#answer")).to_have_attribute("data-state", "done")
            # Nothing wider than the screen: no sideways scrolling of the page itself.
            overflow = phone.evaluate(
                "document.documentElement.scrollWidth - document.documentElement.clientWidth"
            )
            assert overflow <= 0, f"{path} is {overflow}px wider than a phone"
            background = phone.evaluate("getComputedStyle(document.body).backgroundColor")
            text = phone.evaluate("getComputedStyle(document.body).color")
            assert light(background) == (scheme == "light") and light(text) != light(background)
            screenshot(phone, f"{name}-phone-{scheme}.png")
    finally:
        context.close()


def test_a_failed_upload_shows_its_reason(page: Page) -> None:
    page.goto("/library")
    drop_file(page, "broken.pdf", "%PDF-1.7\n1 0 obj <<< truncated, not a PDF\n")
    expect(page.locator("#upload-status")).to_have_attribute("data-state", "failed")
    expect(page.locator("#job-message")).to_contain_text("broken.pdf")
    row = page.locator("#documents tbody tr", has_text="broken.pdf")
    expect(row.locator(".status")).to_have_text("failed")
    expect(row.locator(".reason")).not_to_be_empty()
    page.click("#job-message a")
    expect(page.locator("#job-errors")).to_contain_text("broken.pdf")


# --- a real answer with a citation (the shipped model) --------------------------------------


@pytest.fixture(scope="module")
def real_model_url(
    tmp_path_factory: pytest.TempPathFactory, embedder: Embedder
) -> Iterator[tuple[str, Services]]:
    tmp = tmp_path_factory.mktemp("browser-real")
    settings: Settings = make_settings(tmp / "var", llm_temperature=0.0, llm_max_tokens=96)
    docs = copy_samples(tmp / "docs", "it-security-policy.html", "employee-handbook.md")
    index_folder(settings, embedder, docs)
    with (
        built_services(settings, embedder) as services,
        serving(create_app(services=services)) as url,
    ):
        yield url, services


@pytest.mark.slow
def test_a_citation_marker_leads_to_its_source(
    browser: Browser, real_model_url: tuple[str, Services]
) -> None:
    url, services = real_model_url
    context = browser.new_context(base_url=url)
    try:
        page = context.new_page()
        search(page, "What is the minimum password length?")
        expect(page.locator("#answer")).to_have_attribute("data-state", "done", timeout=120_000)
        marker = page.locator("#answer-text a.cite").first
        expect(marker).to_be_visible()
        target = marker.get_attribute("href")
        assert target and target.startswith("#source-0-")
        marker.click()
        cited = page.locator(target)
        expect(cited).to_have_class(re.compile(r"\bhighlight\b"))
        expect(cited).to_be_in_viewport()
        policy = document_id(services, "it-security-policy.html")
        expect(cited.locator("a")).to_have_attribute("href", f"/api/documents/{policy}/file")
    finally:
        context.close()
