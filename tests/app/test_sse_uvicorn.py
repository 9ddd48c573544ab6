"""Server-sent events through a real server: uvicorn on a loopback port, read with httpx.

Litestar's TestClient buffers a streamed body, so whether events leave the server as they are
produced can only be seen over a socket. To prove it without timing, the test holds the model's
single worker thread: generation cannot start, so `sources` has to arrive while the server is
provably still inside the request (it still holds the request's generation admission).
A server that buffered the stream would send nothing until `done`.
"""

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.main import create_app
from app.services import Services
from enclave.embedder import Embedder
from tests.conftest import SAMPLES, index_folder, tiny_model_settings
from tests.support.apps import built_services
from tests.support.serving import serving
from tests.support.sse import iter_events, model_held, wait_until

pytestmark = pytest.mark.timeout(180)  # a hang (e.g. a buffered stream) fails, not blocks

QUESTION = "How many days of holiday do I get each year?"
# The client gives up on a silent server long before the held model thread is let go.
CLIENT_TIMEOUT = httpx.Timeout(30.0)


@pytest.fixture(scope="module")
def services(
    tmp_path_factory: pytest.TempPathFactory, tiny_gguf: Path, embedder: Embedder
) -> Iterator[Services]:
    tmp = tmp_path_factory.mktemp("sse")
    settings = tiny_model_settings(
        tmp / "var", tiny_gguf, database_url=f"sqlite:///{tmp / 'enclave.db'}"
    )
    # One file is enough to give the model passages; it keeps the module fast.
    report = index_folder(settings, embedder, SAMPLES / "employee-handbook.md")
    assert not report.failed and report.totals()["chunks"] > 0, report.as_json()
    with built_services(settings, embedder) as built:
        yield built


@pytest.fixture(scope="module")
def base_url(services: Services) -> Iterator[str]:
    with serving(create_app(services=services)) as url:
        yield url


# --- helpers -------------------------------------------------------------------------------


def _unmarked(text: str) -> str:
    """Text without [n] markers, copied passage labels or spacing: what the model said."""
    text = re.sub(r"\s*\[\d{1,3}\]|\([^)]*\)|…", " ", text)
    return " ".join(re.sub(r"\s+([.,;:!?])", r"\1", text).split())


# --- tests ---------------------------------------------------------------------------------


def test_events_are_delivered_as_they_are_produced(base_url: str, services: Services) -> None:
    arrivals: list[str] = []
    done: dict[str, Any] = {}
    tokens: list[str] = []
    with (
        httpx.Client(base_url=base_url, timeout=CLIENT_TIMEOUT) as http,
        model_held(services.generator) as gate,
        http.stream("POST", "/api/ask", json={"question": QUESTION, "stream": True}) as response,
    ):
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        assert response.headers["cache-control"] == "no-cache"
        for kind, data in iter_events(response):
            arrivals.append(kind)
            if kind == "sources":
                # Received while no token can exist yet and the request is still running.
                assert arrivals == ["sources"]
                assert data and data[0]["source"].endswith("/employee-handbook.md")
                assert services.generator.waiting == 1
                gate.set()  # now let the model answer
            elif kind == "token":
                tokens.append(data["text"])
            elif kind == "done":
                done = data

    assert arrivals[0] == "sources" and arrivals.count("sources") == 1
    assert arrivals[-1] == "done" and arrivals.count("done") == 1
    assert set(arrivals[1:-1]) <= {"token"}
    assert {"answer", "citations", "timing", "sources"} <= set(done)
    assert "".join(tokens).strip()  # the model's text, or the abstention
    if not done["abstained"]:  # `done` repeats it with Enclave's checked [n] markers
        assert _unmarked(done["answer"]) == _unmarked("".join(tokens))
    wait_until(lambda: services.generator.waiting == 0)
    assert services.generator.waiting == 0


def test_a_client_that_goes_away_gives_its_place_back(base_url: str, services: Services) -> None:
    # Contexts exit in reverse: the connection is closed mid-stream, before any token
    # exists, and only then is the model let go.
    with (
        model_held(services.generator),
        httpx.Client(base_url=base_url, timeout=CLIENT_TIMEOUT) as http,
        http.stream(
            "POST",
            "/api/ask",
            json={"question": QUESTION},
            headers={"Accept": "text/event-stream"},
        ) as response,
    ):
        # Keep the iterator referenced: a discarded one is closed at once, and closing it
        # closes the connection, i.e. the client would leave before this check.
        events = iter_events(response)
        kind, _ = next(events)
        assert kind == "sources"
        assert services.generator.waiting == 1
    # Once the model is free again the abandoned request must not keep its place.
    wait_until(lambda: services.generator.waiting == 0)
    assert services.generator.waiting == 0

    with httpx.Client(base_url=base_url, timeout=CLIENT_TIMEOUT) as http:
        response = http.post("/api/ask", json={"question": QUESTION})
    assert response.status_code == 200
    assert response.json()["answer"]
    assert services.generator.waiting == 0
