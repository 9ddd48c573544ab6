"""The HTTP surface: JSON API, server-sent events, validation, back-pressure, pages, lifespan.

Real parts throughout: SQLite, embedded Qdrant, the MiniLM embedder and llama.cpp running a tiny
random-weight GGUF. The samples are ingested once for the module. The model writes random text,
so answers are checked for structure, not content; `extract_citations` is unit-tested with real
search hits and hand-written answers.
"""

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import TestClient

from app.answering.answers import NOT_FOUND
from app.main import create_app
from app.services import Services
from app.state import running
from enclave.db.migrate import upgrade
from enclave.embedder import Embedder
from enclave.settings import ConfigurationError
from enclave.vectorstore import open_store
from tests.conftest import SAMPLES, index_folder, tiny_model_settings
from tests.support.apps import built_services
from tests.support.sample_questions import SAMPLE_QUESTIONS
from tests.support.sse import parse_sse

EXPECTED_FILE = {question: name for question, name, _page in SAMPLE_QUESTIONS}
HOLIDAY = "How many days of holiday do I get each year?"
PASSWORD = "How long does my password need to be?"
WIFI = "What is the wifi name for visitors?"
HANDBOOK_TITLE = "Northwind Atlas GmbH – Employee Handbook"


# --- fixtures ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def services(
    tmp_path_factory: pytest.TempPathFactory, tiny_gguf: Path, embedder: Embedder
) -> Iterator[Services]:
    """The samples ingested once; one place for the model and none waiting
    (generation_queue_size=0), so a single held admission fills the queue."""
    tmp = tmp_path_factory.mktemp("api")
    settings = tiny_model_settings(
        tmp / "var",
        tiny_gguf,
        database_url=f"sqlite:///{tmp / 'enclave.db'}",
        generation_queue_size=0,
    )
    report = index_folder(settings, embedder, SAMPLES)
    assert not report.failed, report.as_json()
    assert report.totals()["added"] == 5
    with built_services(settings, embedder) as built:
        yield built


@pytest.fixture(scope="module")
def client(services: Services) -> Iterator[TestClient[Any]]:
    with TestClient(create_app(services=services)) as test_client:
        yield test_client


# --- helpers -------------------------------------------------------------------------------


def search(client: TestClient[Any], q: str, k: int) -> list[dict[str, Any]]:
    response = client.get("/api/search", params={"q": q, "k": k})
    assert response.status_code == 200, response.text
    results: list[dict[str, Any]] = response.json()["results"]
    return results


def assert_client_error(response: Any) -> None:
    assert 400 <= response.status_code < 500, (response.status_code, response.text)
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert isinstance(body["detail"], str) and body["detail"].strip()
    assert "Traceback" not in response.text
    assert 'File "' not in response.text


# --- search --------------------------------------------------------------------------------


@pytest.mark.parametrize("question", [HOLIDAY, PASSWORD, WIFI])
def test_search_returns_ranked_passages_from_the_right_file(
    client: TestClient[Any], question: str
) -> None:
    response = client.get("/api/search", params={"q": f"  {question} ", "k": 3})

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert body["query"] == question  # trimmed
    results = body["results"]
    assert len(results) == 3
    for result in results:
        assert {"chunk_id", "document_id", "title", "source", "page", "text", "score"} <= set(
            result
        )
        assert result["text"].strip()
        assert isinstance(result["score"], float)
    scores = [r["score"] for r in results]
    assert scores == sorted(scores, reverse=True)
    assert len({r["chunk_id"] for r in results}) == 3
    assert results[0]["source"].endswith("/" + EXPECTED_FILE[question])


# --- ask (JSON) ----------------------------------------------------------------------------


@pytest.mark.parametrize("question", [HOLIDAY, WIFI])
def test_ask_returns_an_answer_whose_citations_are_its_sources(
    client: TestClient[Any], services: Services, question: str
) -> None:
    retrieved = {(p["document_id"], p["source"]) for p in search(client, question, 3)}

    response = client.post("/api/ask", json={"question": question, "k": 3})

    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert isinstance(body["answer"], str) and body["answer"].strip()
    assert isinstance(body["abstained"], bool)
    assert set(body["timing"]) == {
        "retrieval_ms", "first_token_ms", "total_ms", "tokens", "tokens_per_second",
        "citations_ms",
    }  # fmt: skip
    assert body["search_query"] == question  # no history: the question itself
    assert isinstance(body["unsupported"], list)
    # The sources are the passages the model read: retrieved ones, numbered from 1.
    sources = body["sources"]
    assert [s["n"] for s in sources] == list(range(1, len(sources) + 1))
    assert sources and {(s["document_id"], s["source"]) for s in sources} <= retrieved
    if body["abstained"]:
        assert body["answer"] == NOT_FOUND and body["citations"] == []
        assert body["abstention"] in {"model_declined", "unsupported_answer"}
    for citation in body["citations"]:
        # [n] is the n-th source; each names the answer sentences it supports.
        cited = sources[citation["n"] - 1]
        assert (citation["document_id"], citation["source"]) == (
            cited["document_id"],
            cited["source"],
        )
        assert citation["sentences"]
    assert services.generator.waiting == 0  # the request gave its place back


def test_ask_abstains_with_the_closest_sources_when_nothing_is_relevant(
    client: TestClient[Any], services: Services
) -> None:
    question = "Who won the football world cup in 2014?"
    closest = search(client, question, 3)
    assert max(r["relevance"] for r in closest) < services.settings.min_relevance

    body = client.post("/api/ask", json={"question": question, "k": 3}).json()

    assert body["abstained"] and body["abstention"] == "no_relevant_passages"
    assert body["answer"] == NOT_FOUND and body["citations"] == []
    assert body["timing"]["tokens"] == 0  # the model was not asked
    assert [s["document_id"] for s in body["sources"]] == [r["document_id"] for r in closest]


def test_ask_condenses_a_follow_up_into_the_search_query(client: TestClient[Any]) -> None:
    history = [
        {"role": "user", "content": "What is the travel expense policy?"},
        {"role": "assistant", "content": "Expenses are reimbursed with the next salary [1]."},
    ]

    body = client.post(
        "/api/ask", json={"question": "Who approves it?", "history": history, "mode": "hybrid"}
    ).json()

    assert body["search_query"] == "What is the travel expense policy? Who approves it?"
    assert body["sources"][0]["source"].endswith("/travel-and-expenses.pdf")


def test_citations_keep_supported_markers_and_drop_invented_numbers(
    services: Services,
) -> None:
    hits = services.answers.retriever.search(PASSWORD, 3)
    assert "14 characters" in hits[0].text
    answer = (
        "Every password must be at least 14 characters long [1]. The cafeteria serves pizza [9]."
    )

    review = services.answers.matcher.review(answer, PASSWORD, hits)

    assert [c.n for c in review.citations] == [1]
    assert review.invented == [9]
    assert review.unsupported == ["The cafeteria serves pizza."]
    citation, hit = review.citations[0], hits[0]
    assert (citation.document_id, citation.title, citation.source, citation.page) == (
        hit.document_id,
        hit.title,
        hit.source,
        hit.page,
    )
    assert "14 characters" in citation.snippet
    assert citation.snippet.removesuffix(" …") in " ".join(hit.text.split())
    assert review.text == (
        "Every password must be at least 14 characters long [1]. The cafeteria serves pizza."
    )


def _sentence_only_in(hits: list[Any], index: int) -> str:
    """The longest sentence of hits[index] that no other hit contains."""
    sentences = [s.strip() for s in re.split(r"(?<=[.!?])\s+|\n+", hits[index].text)]
    unique = [
        s
        for s in sentences
        if len(s.split()) >= 6 and all(s not in h.text for i, h in enumerate(hits) if i != index)
    ]
    assert unique, hits[index].text
    return max(unique, key=len)


@pytest.mark.parametrize("marker", ["", " [1]", " [7]"], ids=["uncited", "miscited", "invented"])
def test_citations_attach_a_copied_sentence_to_the_passage_it_comes_from(
    services: Services, marker: str
) -> None:
    hits = services.answers.retriever.search(HOLIDAY, 3)
    assert len(hits) == 3
    copied = _sentence_only_in(hits, 2)
    answer = f"Zebras juggle purple umbrellas. {copied}{marker}"

    review = services.answers.matcher.review(answer, HOLIDAY, hits)

    # The unrelated sentence supports nothing; the copied one is attributed to passage 3,
    # whatever the model's marker said.
    assert [c.n for c in review.citations] == [3]
    assert review.citations[0].document_id == hits[2].document_id
    assert review.citations[0].sentences == (copied,)
    assert review.unsupported == ["Zebras juggle purple umbrellas."]


# --- ask (server-sent events) -------------------------------------------------------------


def _unmarked(text: str) -> str:
    """Text without [n] markers, copied passage labels or spacing: what the model said."""
    text = re.sub(r"\s*\[\d{1,3}\]|\([^)]*\)|…", " ", text)
    return " ".join(re.sub(r"\s+([.,;:!?])", r"\1", text).split())


@pytest.mark.parametrize(
    ("body", "headers"),
    [
        ({"stream": True}, {}),
        ({}, {"Accept": "text/event-stream"}),
    ],
    ids=["stream-true", "accept-header"],
)
def test_ask_streams_sources_tokens_then_done(
    client: TestClient[Any],
    services: Services,
    body: dict[str, Any],
    headers: dict[str, str],
) -> None:
    passages = search(client, HOLIDAY, 3)

    response = client.post("/api/ask", json={"question": HOLIDAY, "k": 3, **body}, headers=headers)

    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/event-stream")
    events = parse_sse(response.text)  # json.loads of every data: line, or it raises
    kinds = [kind for kind, _ in events]
    assert kinds[0] == "sources" and kinds.count("sources") == 1
    assert kinds[-1] == "done" and kinds.count("done") == 1
    assert set(kinds[1:-1]) <= {"token"}

    sources = events[0][1]
    assert [s["n"] for s in sources] == list(range(1, len(sources) + 1))
    assert 1 <= len(sources) <= 3
    retrieved = {(p["document_id"], p["source"]) for p in passages}
    assert {(s["document_id"], s["source"]) for s in sources} <= retrieved

    done = events[-1][1]
    assert {"answer", "citations", "timing", "abstained", "unsupported", "sources"} <= set(done)
    assert done["sources"] == sources
    assert isinstance(done["answer"], str) and done["answer"].strip()
    streamed = "".join(data["text"] for kind, data in events if kind == "token").strip()
    assert streamed  # the model's text, or the abstention when it wrote nothing
    if done["abstained"]:
        assert done["answer"] == NOT_FOUND and done["citations"] == []
    else:
        # `done` repeats the streamed text with Enclave's checked [n] markers.
        assert _unmarked(streamed) == _unmarked(done["answer"])
    if done["timing"]["tokens"] > 1:
        assert done["timing"]["tokens_per_second"] > 0
    for citation in done["citations"]:
        source = sources[citation["n"] - 1]
        assert (citation["document_id"], citation["source"]) == (
            source["document_id"],
            source["source"],
        )
    assert services.generator.waiting == 0


# --- validation ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"q": ""},
        {"q": "   \t "},
        {"q": "x" * 2001},  # settings.max_query_chars is 2000 (checked below)
        {"q": "vacation", "k": "0"},
        {"q": "vacation", "k": "-1"},
        {"q": "vacation", "k": "1000"},
        {"q": "vacation", "k": "abc"},
    ],
    ids=["missing-q", "empty-q", "blank-q", "long-q", "k-0", "k-negative", "k-1000", "k-abc"],
)
def test_search_rejects_bad_parameters(
    client: TestClient[Any], services: Services, params: dict[str, str]
) -> None:
    assert services.settings.max_query_chars == 2000
    assert services.settings.max_top_k < 1000

    assert_client_error(client.get("/api/search", params=params))


def test_search_accepts_a_query_of_exactly_the_limit(
    client: TestClient[Any], services: Services
) -> None:
    q = ("vacation days " * 200)[: services.settings.max_query_chars]
    assert len(q.strip()) == services.settings.max_query_chars

    response = client.get("/api/search", params={"q": q, "k": 1})

    assert response.status_code == 200
    assert len(response.json()["results"]) == 1


@pytest.mark.parametrize(
    "content",
    [
        b"{not json",
        b'{"question": "vacation"',
        b"",
        b"[]",
        b"{}",
        b'{"question": "vacation", "colour": "blue"}',
        b'{"question": 5}',
        b'{"question": null}',
        b'{"question": ["vacation"]}',
        b'{"question": ""}',
        b'{"question": "   "}',
        b'{"question": "' + b"x" * 2001 + b'"}',
        b'{"question": "vacation", "k": 0}',
        b'{"question": "vacation", "k": 1000}',
        b'{"question": "vacation", "stream": "yes"}',
        b'{"question": "   ", "stream": true}',
        b'{"question": "vacation", "mode": "fuzzy"}',
        b'{"question": "vacation", "history": [{"role": "system", "content": "obey"}]}',
        b'{"question": "vacation", "history": [{"role": "user", "content": ""}]}',
        b'{"question": "vacation", "history": [{"role": "user", "content": "   "}]}',
        b'{"question": "vacation", "history": [{"role": "user"}]}',
        b'{"question": "vacation", "history": "earlier"}',
        b'{"question": "vacation", "history": ['
        + b", ".join([b'{"role": "user", "content": "a"}'] * 21)
        + b"]}",
        b'{"question": "vacation", "history": [{"role": "user", "content": "'
        + b"x" * 8001
        + b'"}]}',
    ],
    ids=[
        "malformed",
        "truncated",
        "empty-body",
        "array",
        "missing-question",
        "unknown-field",
        "question-int",
        "question-null",
        "question-list",
        "question-empty",
        "question-blank",
        "question-long",
        "k-0",
        "k-1000",
        "stream-string",
        "blank-streaming",
        "mode-unknown",
        "history-role-system",
        "history-empty-content",
        "history-blank-content",
        "history-no-content",
        "history-not-a-list",
        "history-too-many-turns",
        "history-turn-too-long",
    ],
)
def test_ask_rejects_bad_bodies(
    client: TestClient[Any], services: Services, content: bytes
) -> None:
    response = client.post(
        "/api/ask", content=content, headers={"Content-Type": "application/json"}
    )

    assert_client_error(response)
    assert services.generator.waiting == 0  # rejected before taking a place


# --- back-pressure -------------------------------------------------------------------------


def test_full_queue_answers_503_with_retry_after_then_recovers(
    client: TestClient[Any], services: Services
) -> None:
    assert services.generator.capacity == 1  # generation_queue_size=0
    held = services.generator.admit()
    try:
        for body, headers in [
            ({"question": HOLIDAY}, {}),
            ({"question": HOLIDAY, "stream": True}, {}),
            ({"question": HOLIDAY}, {"Accept": "text/event-stream"}),
        ]:
            response = client.post("/api/ask", json=body, headers=headers)
            assert response.status_code == 503, response.text
            assert int(response.headers["retry-after"]) >= 1
            assert response.headers["content-type"].startswith("application/json")
            assert "busy" in response.json()["detail"]
        # Refused requests take no place; searches do not need the model.
        assert services.generator.waiting == 1
        assert search(client, HOLIDAY, 3)
        page = client.get("/", params={"q": "vacation", "answer": "true"})
        assert page.status_code == 200
        assert "The model is busy" in page.text
    finally:
        held.release()

    response = client.post("/api/ask", json={"question": HOLIDAY})
    assert response.status_code == 200, response.text
    assert response.json()["answer"]
    assert services.generator.waiting == 0


# --- health, schema, pages -----------------------------------------------------------------


def test_health_and_readiness(client: TestClient[Any]) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}

    response = client.get("/readyz")

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ready"
    assert body["database"] == "ok"
    assert body["qdrant"] == "ok"
    assert body["model"] == "enclave-tiny-llama-test"


def test_openapi_documents_search_and_ask(client: TestClient[Any]) -> None:
    response = client.get("/schema/openapi.json")

    assert response.status_code == 200
    schema = response.json()
    assert "get" in schema["paths"]["/api/search"]
    ask = schema["paths"]["/api/ask"]["post"]
    assert "AskRequest" in json.dumps(ask["requestBody"])
    assert "#/components/schemas/AskResponse" in json.dumps(ask["responses"]["200"])
    assert "/" not in schema["paths"]  # the HTML page is not part of the API


def test_home_page_has_a_search_form(client: TestClient[Any]) -> None:
    response = client.get("/")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert re.search(r'<form action="/" method="get"[^>]*>', response.text)
    assert 'name="q"' in response.text
    assert 'id="results"' not in response.text


def test_search_page_lists_matching_documents(client: TestClient[Any]) -> None:
    response = client.get("/", params={"q": "vacation"})

    assert response.status_code == 200
    assert 'id="results"' in response.text
    assert f"<h3>{HANDBOOK_TITLE}</h3>" in response.text
    assert re.search(r'<section id="answer"[^>]*\bhidden\b', response.text)


def test_search_page_renders_an_answer_when_asked(
    client: TestClient[Any], services: Services
) -> None:
    response = client.get("/", params={"q": "vacation", "answer": "true"})

    assert response.status_code == 200
    section = re.search(r'<section id="answer"[^>]*>', response.text)
    assert section and "hidden" not in section.group(0)
    # The tiny model's noise is usually unsupported: then the page says so plainly.
    answer = re.search(r'<p id="answer-text"( hidden)?>(.*?)</p>', response.text, re.DOTALL)
    assert answer
    if answer.group(1):
        assert 'class="abstained"' in response.text
    else:
        assert answer.group(2).strip()
    assert f"<h3>{HANDBOOK_TITLE}</h3>" in response.text
    assert services.generator.waiting == 0


def test_search_page_escapes_the_query(client: TestClient[Any]) -> None:
    response = client.get("/", params={"q": "<script>alert(1)</script>"})

    assert response.status_code == 200
    assert "<script>alert(1)" not in response.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in response.text


def test_search_page_reports_a_too_long_query(client: TestClient[Any]) -> None:
    response = client.get("/", params={"q": "x" * 2001})

    assert response.status_code == 400
    assert response.headers["content-type"].startswith("text/html")
    assert 'role="alert"' in response.text and "the limit is 2000" in response.text


# --- lifespan ------------------------------------------------------------------------------


def test_app_builds_and_closes_its_own_services(tmp_path: Path, tiny_gguf: Path) -> None:
    settings = tiny_model_settings(tmp_path / "var", tiny_gguf, llm_max_tokens=8)
    upgrade(settings.database_url)  # as `enclave serve` does before starting the app

    with TestClient(create_app(settings)) as test_client:
        built = running(test_client.app).services
        assert isinstance(built, Services) and built.settings is settings
        assert test_client.get("/readyz").status_code == 200
        response = test_client.get("/api/search", params={"q": "vacation"})
        assert response.status_code == 200 and response.json()["results"] == []
        # While the app runs it holds the embedded store's folder...
        with pytest.raises(ConfigurationError):
            open_store(settings)

    # ...and shutting down released it.
    store = open_store(settings)
    try:
        assert store.ping()
    finally:
        store.close()
