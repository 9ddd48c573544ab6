"""The shipped SmolLM2-135M-Instruct answers a sample question from the samples, with a
citation pointing at the right document. Slow: loads the real 98 MB model."""

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from litestar.testing import TestClient

from app.main import create_app
from app.services import Services
from enclave.embedder import Embedder
from tests.conftest import SAMPLES, index_folder, make_settings

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> Iterator[TestClient]:
    root = tmp_path_factory.mktemp("real-model")
    shutil.copytree(SAMPLES, root / "samples", ignore=shutil.ignore_patterns("*.py"))
    # Temperature 0: greedy decoding, so the test sees the same answer every run.
    settings = make_settings(root / "var", llm_temperature=0.0, llm_max_tokens=96)
    index_folder(settings, embedder, root / "samples")
    services = Services.build(settings, embedder=embedder)
    with TestClient(create_app(services=services)) as test_client:
        yield test_client
    services.close()


def test_shipped_model_answers_with_a_citation(client: TestClient) -> None:
    response = client.post("/api/ask", json={"question": "What is the minimum password length?"})
    assert response.status_code == 200
    body = response.json()
    print("SmolLM2 answered:", body["answer"])
    assert "14" in body["answer"]
    assert body["citations"], body
    assert Path(body["citations"][0]["source"]).name == "it-security-policy.html"
    assert "14 characters" in body["citations"][0]["snippet"]


def test_shipped_model_streams(client: TestClient) -> None:
    response = client.post(
        "/api/ask", json={"question": "What is the guest wifi network called?", "stream": True}
    )
    assert response.status_code == 200
    events = [
        line.split(":", 1)[1].strip()
        for line in response.text.splitlines()
        if line.startswith("event:")
    ]
    assert events[0] == "sources" and events[-1] == "done" and "token" in events
