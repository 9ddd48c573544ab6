"""The stored-XSS chain of issue 24, in Chromium: an uploaded script and an uploaded page
that loads it must not run in the service's origin, however the reader reaches them.

The test watches for the script's effect (a document deleted with the reader's rights), not
for a header: before the fix, opening the page's file link deleted the document.
"""

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser
from playwright.sync_api import Error as PlaywrightError

from enclave.embedder import Embedder
from tests.support.apps import served_app
from tests.support.browsers import MARKS, page_settings
from tests.support.jobs import wait_for_job

pytestmark = MARKS


@pytest.fixture(scope="module")
def base_url(
    tmp_path_factory: pytest.TempPathFactory, tiny_gguf: Path, embedder: Embedder
) -> Iterator[str]:
    settings = page_settings(tmp_path_factory.mktemp("originals"), tiny_gguf)
    with served_app(settings, embedder) as url:
        yield url


def uploaded(http: httpx.Client, name: str, body: bytes) -> str:
    """Upload a file and return its document id once indexed."""
    receipt = http.post("/api/documents", files=[("files", (name, body, "text/plain"))])
    assert receipt.status_code == 202, receipt.text
    wait_for_job(http, receipt.json()["job_id"])
    listing = http.get("/api/documents", params={"q": name}).json()["documents"]
    return str(next(d["id"] for d in listing if d["source_path"].endswith("/" + name)))


def exists(http: httpx.Client, document_id: str) -> bool:
    return http.get(f"/api/documents/{document_id}").status_code == 200


def test_an_uploaded_page_and_script_never_run_in_the_services_origin(
    browser: Browser, base_url: str
) -> None:
    with httpx.Client(base_url=base_url) as http:
        victim = uploaded(http, "keep-me.md", b"# Keep me\n\nThe heron-5 budget.\n")
        delete = f"fetch('/api/documents/{victim}', {{method: 'DELETE'}})"
        script = uploaded(http, "evil.js", f"{delete};".encode())
        page_id = uploaded(
            http,
            "evil.html",
            f'<html><body><script src="/api/documents/{script}/file"></script>'
            f"<script>{delete}</script>"
            f'<img src="x" onerror="{delete}"></body></html>'.encode(),
        )
        svg = uploaded(
            http,
            "evil.svg",
            f'<svg xmlns="http://www.w3.org/2000/svg"><script>{delete}</script></svg>'.encode(),
        )
        context = browser.new_context(base_url=base_url, accept_downloads=True)
        page = context.new_page()
        downloads: list[str] = []
        page.on("download", lambda download: downloads.append(download.suggested_filename))
        try:
            # 1. The reader follows the page's, the SVG's and the script's file links.
            for n, document in enumerate((page_id, svg, script), start=1):
                try:
                    page.goto(f"/api/documents/{document}/file")
                except PlaywrightError as error:
                    # Chromium reports a navigation that turned into a download as an error.
                    assert "Download is starting" in str(error), error
                for _ in range(100):
                    if len(downloads) == n:
                        break
                    page.wait_for_timeout(100)
                assert len(downloads) == n, f"{document} was shown, not downloaded"
            assert sorted(downloads) == ["evil.html", "evil.js", "evil.svg"]
            # 2. Even a page of the service's own that loads the script cannot run it.
            page.goto("/healthz")
            outcome = page.evaluate(
                """(src) => new Promise((done) => {
                    const tag = document.createElement("script");
                    tag.src = src;
                    tag.onload = () => done("loaded");
                    tag.onerror = () => done("refused");
                    document.head.appendChild(tag);
                })""",
                f"/api/documents/{script}/file",
            )
            assert outcome == "refused"
            page.wait_for_timeout(1_000)  # let any fetch the script started land
        finally:
            context.close()
        assert exists(http, victim), "an uploaded file ran a script with the reader's rights"
