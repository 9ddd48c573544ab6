"""GET /api/search with modes and filters, over the samples ingested by the real pipeline
into the default embedded store (Edge), with the real embedder."""

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import TestClient

from enclave.embedder import Embedder
from tests.conftest import SAMPLES, index_folder, tiny_model_settings
from tests.support.apps import app_client


@pytest.fixture(scope="module")
def client(
    tmp_path_factory: pytest.TempPathFactory, tiny_gguf: Path, embedder: Embedder
) -> Iterator[TestClient[Any]]:
    tmp = tmp_path_factory.mktemp("search")
    settings = tiny_model_settings(
        tmp / "var", tiny_gguf, database_url=f"sqlite:///{tmp / 'enclave.db'}"
    )
    report = index_folder(settings, embedder, SAMPLES)
    assert not report.failed, report.as_json()
    with app_client(settings, embedder) as test_client:
        yield test_client


def get(client: TestClient[Any], **params: Any) -> dict[str, Any]:
    response = client.get("/api/search", params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


@pytest.mark.parametrize("mode", ["dense", "sparse", "hybrid"])
def test_every_mode_finds_the_password_table(client: TestClient[Any], mode: str) -> None:
    body = get(client, q="minimum password length", k=3, mode=mode)
    assert body["mode"] == mode
    top = body["results"][0]
    assert top["title"] == "IT Security Policy" and "14" in top["text"]
    assert 0.3 < top["relevance"] <= 1.0  # cosine, whatever the mode's own score


def test_hybrid_is_the_default(client: TestClient[Any]) -> None:
    assert get(client, q="guest wifi")["mode"] == "hybrid"


def test_file_type_and_source_filters(client: TestClient[Any]) -> None:
    pdf_only = get(client, q="expenses approval", k=10, file_type="pdf")["results"]
    assert pdf_only and {r["file_type"] for r in pdf_only} == {"pdf"}
    two_types = get(client, q="policy", k=20, file_type=["pdf", ".DOCX"])["results"]
    assert {r["file_type"] for r in two_types} == {"pdf", "docx"}
    assert get(client, q="policy", source=str(SAMPLES))["results"]
    assert get(client, q="policy", source="no-such-source")["results"] == []


def test_document_and_date_filters(client: TestClient[Any]) -> None:
    top = get(client, q="password", k=1)["results"][0]
    only = get(client, q="cafeteria lunch", k=5, document_id=top["document_id"])["results"]
    assert only and {r["document_id"] for r in only} == {top["document_id"]}
    assert get(client, q="policy", modified_after="2999-01-01T00:00:00")["results"] == []
    assert get(client, q="policy", modified_before="2999-01-01")["results"]


@pytest.mark.parametrize(
    "params",
    [
        {"q": "x", "mode": "fuzzy"},
        {"q": "x", "modified_after": "yesterday"},
        {"q": "x", "modified_after": "2024-02-01", "modified_before": "2024-01-01"},
        {"q": "x", "k": 0},
    ],
)
def test_bad_parameters_are_client_errors(client: TestClient[Any], params: dict[str, Any]) -> None:
    response = client.get("/api/search", params=params)
    assert response.status_code == 400, response.text
    assert response.json()["detail"] and "Traceback" not in response.text
