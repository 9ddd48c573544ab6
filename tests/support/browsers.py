"""What the browser tests share: Debian's Chromium launched by Playwright (never a downloaded
browser), screenshots in tests/artifacts/ (git-ignored), and page helpers."""

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from enclave.settings import Settings
from tests.conftest import SAMPLES, tiny_model_settings
from tests.support.paths import ROOT

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = ROOT / "tests" / "artifacts"
# No background requests (updates, safe browsing): data never leaves applies to the browser.
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]

# The machine is shared: give pages time (a bound on waiting, not a measurement).
expect.set_options(timeout=30_000)
MARKS = [
    pytest.mark.timeout(240),
    pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed"),
]


def page_settings(data: Path, tiny_gguf: Path, **overrides: object) -> Settings:
    """The tiny model behind the pages. Relevance is cosine similarity: 0.3 separates a
    question the samples answer from one they do not. The tiny model writes noise, which the
    citation check would reject; keep its text so streaming and structure can be seen."""
    return tiny_model_settings(
        data / "var",
        tiny_gguf,
        database_url=f"sqlite:///{data / 'enclave.db'}",
        **{"min_relevance": 0.3, "abstain_unsupported": False, **overrides},
    )


@contextmanager
def launch_chromium() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()


def copy_samples(target: Path, *names: str) -> Path:
    target.mkdir(parents=True)
    for name in names:
        shutil.copy(SAMPLES / name, target / name)
    return target


def screenshot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / name), full_page=True)


def drop_file(page: Page, name: str, text: str) -> None:
    """Drop a file on the drop zone, as dragging one from the desktop does."""
    transfer = page.evaluate_handle(
        """([name, text]) => {
            const transfer = new DataTransfer();
            transfer.items.add(new File([text], name, { type: "text/plain" }));
            return transfer;
        }""",
        [name, text],
    )
    page.dispatch_event("#drop-zone", "drop", {"dataTransfer": transfer})
