"""Feedback on answers: the repository on SQLite and PostgreSQL, and POST/GET /api/feedback
with validation, through the real app (the samples are not needed: feedback is stored as
sent)."""

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import TestClient
from sqlalchemy.exc import IntegrityError

from enclave.db import Database, Feedback
from enclave.db.feedback import FeedbackRepository
from enclave.embedder import Embedder
from enclave.settings import Settings
from tests.conftest import tiny_model_settings
from tests.support.apps import app_client

CITATIONS = [
    {"n": 1, "document_id": "d1", "title": "Handbook", "source": "/docs/h.md", "page": None},
    {"n": 2, "document_id": "d2", "title": "Travel", "source": "/docs/t.pdf", "page": 3},
]


def test_repository_round_trip(database: Database) -> None:
    with database.session() as session:
        repository = FeedbackRepository(session)
        first = repository.add("How many days?", "25 days [1].", CITATIONS, 1, "spot on")
        repository.add("Wifi?", "Not in the knowledge base.", [], -1)
    with database.session() as session:
        repository = FeedbackRepository(session)
        loaded = repository.get(first.id)
        assert loaded is not None
        assert loaded.question == "How many days?" and loaded.answer == "25 days [1]."
        assert loaded.citations == CITATIONS and loaded.rating == 1
        assert loaded.comment == "spot on" and loaded.created_at is not None
        listed = repository.recent()
        assert [f.question for f in listed] == ["Wifi?", "How many days?"]  # newest first
        assert listed[0].comment is None
        assert repository.totals() == {1: 1, -1: 1}


def test_repository_rejects_other_ratings(database: Database) -> None:
    with database.session() as session, pytest.raises(ValueError, match="rating"):
        FeedbackRepository(session).add("q", "a", [], 0)
    # The database enforces it too, for writers that bypass the repository.
    with pytest.raises(IntegrityError), database.session() as session:
        session.add(Feedback(question="q", answer="a", citations=[], rating=5))


@pytest.fixture(scope="module")
def client(
    tmp_path_factory: pytest.TempPathFactory, tiny_gguf: Path, embedder: Embedder
) -> Iterator[TestClient[Any]]:
    tmp = tmp_path_factory.mktemp("feedback")
    settings: Settings = tiny_model_settings(
        tmp / "var", tiny_gguf, database_url=f"sqlite:///{tmp / 'enclave.db'}"
    )
    with app_client(settings, embedder) as test_client:
        yield test_client


def test_api_stores_feedback_and_lists_it(client: TestClient[Any]) -> None:
    body = {
        "question": "How many days of holiday?",
        "answer": "30 days [1].",
        "rating": -1,
        "citations": CITATIONS[:1],
        "comment": "  it is 25  ",
    }
    response = client.post("/api/feedback", json=body)
    assert response.status_code == 201, response.text
    stored = response.json()
    assert stored["rating"] == -1 and stored["comment"] == "it is 25"
    assert stored["citations"] == CITATIONS[:1]

    listed = client.get("/api/feedback").json()
    assert [f["id"] for f in listed][:1] == [stored["id"]]

    page = client.get("/admin/feedback")
    assert page.status_code == 200
    assert "How many days of holiday?" in page.text and "it is 25" in page.text
    assert 'href="/api/documents/d1/file"' in page.text


@pytest.mark.parametrize(
    "body",
    [
        {"question": "q", "answer": "a", "rating": 0},
        {"question": "q", "answer": "a", "rating": 2},
        {"question": "", "answer": "a", "rating": 1},
        {"question": "q", "rating": 1},
        {"question": "q", "answer": "a", "rating": 1, "extra": True},
        {"question": "q", "answer": "a", "rating": 1, "comment": "x" * 5001},
        {"question": "q", "answer": "a", "rating": 1, "citations": [{"title": "no n"}]},
    ],
)
def test_api_rejects_bad_feedback(client: TestClient[Any], body: dict[str, Any]) -> None:
    before = len(client.get("/api/feedback").json())
    response = client.post("/api/feedback", json=body)
    assert response.status_code == 400, response.text
    assert response.json()["detail"]
    assert len(client.get("/api/feedback").json()) == before


def test_feedback_page_escapes_what_was_sent(client: TestClient[Any]) -> None:
    body = {"question": "<script>x()</script>", "answer": "<b>a</b>", "rating": 1}
    assert client.post("/api/feedback", json=body).status_code == 201
    page = client.get("/admin/feedback").text
    assert "<script>x()" not in page and "&lt;script&gt;x()&lt;/script&gt;" in page
