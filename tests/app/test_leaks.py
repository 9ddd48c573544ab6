"""A caller outside a document's groups never sees its text, title, id or count, on any path.

Real parts: the MiniLM embedder, the Edge store, SQLite, llama.cpp with the tiny random GGUF.
Two groups, "hr" and "eng", each with a document of distinctive text. The "eng" key holds
every scope (admin included), so what keeps the HR document from it is the groups alone.
Every check is paired with the same request by the "hr" key, which must see the document:
a path that returned nothing to anyone would pass the leak check without proving anything.
"""

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import TestClient

from enclave.access.keys import create_key
from enclave.db import Database
from enclave.db.migrate import upgrade
from enclave.embedder import Embedder
from enclave.settings import Settings
from ingest.pipeline import Ingestor
from ingest.worker import Worker, sync_now
from tests.conftest import tiny_model_settings
from tests.support.apps import app_client
from tests.support.sse import parse_sse

# Distinctive HR text: what the question asks (the asker's own words may come back to them)
# and what only the document holds (must never reach an "eng" caller).
QUESTION = "What is the ZEBRA-7731 salary band?"
SECRETS = ("93,450", "platypus", "Quokka Remuneration Ledger")
HR_TEXT = """# Quokka Remuneration Ledger

The ZEBRA-7731 salary band pays 93,450 euros a year. Members of the platypus programme
receive the ZEBRA-7731 salary band after their second review.
"""
ENG_TEXT = """# Deployment runbook

Deployments to production happen on Tuesdays. The release engineer tags the build, runs the
smoke tests and watches the error dashboard for thirty minutes after each salary-free deploy.
"""
SHARED_TEXT = """# Canteen menu

The canteen serves lentil soup on Mondays and grilled halloumi on Thursdays.
"""


@dataclass(frozen=True)
class World:
    client: TestClient[Any]
    hr: dict[str, str]
    eng: dict[str, str]
    root: dict[str, str]  # every group, every scope
    hr_id: str
    eng_id: str
    shared_id: str


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture(scope="module")
def world(
    tmp_path_factory: pytest.TempPathFactory, tiny_gguf: Path, embedder: Embedder
) -> Iterator[World]:
    tmp = tmp_path_factory.mktemp("leaks")
    settings: Settings = tiny_model_settings(
        tmp / "var",
        tiny_gguf,
        database_url=f"sqlite:///{tmp / 'enclave.db'}",
        auth="on",
        min_relevance=-1.0,  # every hit reaches the model: the widest exposure
        llm_max_tokens=8,
    )
    folders = {}
    for name, files in {
        "hr": {"ledger.md": HR_TEXT, "canteen.md": SHARED_TEXT},
        "eng": {"runbook.md": ENG_TEXT},
    }.items():
        folder = tmp / name
        folder.mkdir()
        for file, text in files.items():
            (folder / file).write_text(text)
        folders[name] = folder
    upgrade(settings.database_url)
    database = Database.from_settings(settings)
    from enclave.vectorstore import open_store

    store = open_store(settings)
    try:
        worker = Worker(database, Ingestor.from_settings(settings, database, store, embedder))
        for name, folder in folders.items():
            report = sync_now(worker, folder, groups=[name], name=f"{name}-docs")
            assert not report.failed, report.as_json()
        ids = {}
        with database.session() as session:
            from enclave.db.documents import DocumentRepository

            for document in DocumentRepository(session).page():
                ids[Path(document.source_path).name] = document.id
        tokens = {
            who: create_key(database, who, groups, ["search", "ask", "ingest", "admin"]).token
            for who, groups in {"hr": ["hr"], "eng": ["eng"], "root": ["*"]}.items()
        }
    finally:
        store.close()
        database.dispose()
    with app_client(settings, embedder) as client:
        yield World(
            client,
            bearer(tokens["hr"]),
            bearer(tokens["eng"]),
            bearer(tokens["root"]),
            ids["ledger.md"],
            ids["runbook.md"],
            ids["canteen.md"],
        )


def assert_hidden(text: str, world: World) -> None:
    """None of the HR document's text, title or id is in `text`."""
    for secret in (*SECRETS, world.hr_id):
        assert secret not in text, f"{secret!r} leaked: {text[:500]}"


def assert_shown(text: str, world: World) -> None:
    """The control: the HR caller does get the HR document on this path."""
    assert world.hr_id in text or any(s in text for s in SECRETS), text[:500]


# --- search and answers --------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["dense", "sparse", "hybrid"])
def test_search_never_returns_another_groups_chunks(world: World, mode: str) -> None:
    params: dict[str, str | int] = {"q": "ZEBRA-7731 salary band", "k": 10, "mode": mode}
    seen = world.client.get("/api/search", params=params, headers=world.hr)
    assert seen.status_code == 200
    assert_shown(seen.text, world)

    response = world.client.get("/api/search", params=params, headers=world.eng)
    assert response.status_code == 200
    assert_hidden(response.text, world)
    assert {r["document_id"] for r in response.json()["results"]} <= {world.eng_id}
    # Naming the document in the client's own filter cannot widen what the caller sees.
    targeted = world.client.get(
        "/api/search", params={**params, "document_id": world.hr_id}, headers=world.eng
    )
    assert targeted.status_code == 200 and targeted.json()["results"] == []


def test_ask_json_stream_and_follow_up(world: World) -> None:
    history = [
        {"role": "user", "content": "Tell me about pay bands."},
        {"role": "assistant", "content": "Which band do you mean?"},
    ]
    bodies: list[dict[str, Any]] = [
        {"question": QUESTION},
        {"question": QUESTION, "history": history},
        {"question": QUESTION, "filters": {"document_id": [world.hr_id]}},
    ]
    for body in bodies:
        control = world.client.post("/api/ask", json=body, headers=world.hr)
        assert control.status_code == 200, control.text
        assert_shown(control.text, world)
        answer = world.client.post("/api/ask", json=body, headers=world.eng)
        assert answer.status_code == 200, answer.text
        assert_hidden(answer.text, world)
        assert {s["document_id"] for s in answer.json()["sources"]} <= {world.eng_id}

        stream = world.client.post("/api/ask", json={**body, "stream": True}, headers=world.eng)
        assert stream.status_code == 200
        events = parse_sse(stream.text)
        assert events[0][0] == "sources" and events[-1][0] == "done"
        assert_hidden(stream.text, world)


def test_openai_chat_completions_plain_and_streamed(world: World) -> None:
    body = {"model": "enclave", "messages": [{"role": "user", "content": QUESTION}]}
    control = world.client.post("/v1/chat/completions", json=body, headers=world.hr)
    assert control.status_code == 200, control.text
    plain = world.client.post("/v1/chat/completions", json=body, headers=world.eng)
    assert plain.status_code == 200, plain.text
    assert_hidden(plain.text, world)
    # The random model cites nothing, so the control is what the model read: usage counts
    # the passages' tokens, and the two callers were given different passages.
    assert plain.json()["usage"]["prompt_tokens"] != control.json()["usage"]["prompt_tokens"]
    streamed = world.client.post(
        "/v1/chat/completions", json={**body, "stream": True}, headers=world.eng
    )
    assert streamed.status_code == 200 and "data: [DONE]" in streamed.text
    assert_hidden(streamed.text, world)


def test_search_page(world: World) -> None:
    params = {"q": "ZEBRA-7731 salary band", "answer": "true"}
    control = world.client.get("/", params=params, headers=world.hr)
    assert control.status_code == 200
    assert_shown(control.text, world)
    assert "hr-docs" in control.text  # the source facet
    page = world.client.get("/", params=params, headers=world.eng)
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert_hidden(page.text, world)
    assert "hr-docs" not in page.text


# --- documents -----------------------------------------------------------------------------


def test_document_listing_and_counts(world: World) -> None:
    every = world.client.get("/api/documents", headers=world.hr).json()
    assert every["total"] == 2 and world.hr_id in json.dumps(every)
    listed = world.client.get("/api/documents", headers=world.eng)
    assert listed.status_code == 200
    assert listed.json()["total"] == 1
    assert [d["id"] for d in listed.json()["documents"]] == [world.eng_id]
    assert_hidden(listed.text, world)
    # Searching titles and paths does not reveal a count either.
    found = world.client.get("/api/documents", params={"q": "ledger"}, headers=world.eng)
    assert found.json() == {"documents": [], "total": 0}
    page = world.client.get("/library", headers=world.eng)
    assert page.status_code == 200
    assert_hidden(page.text, world)
    assert "ledger.md" not in page.text and "hr-docs" not in page.text
    assert "ledger.md" in world.client.get("/library", headers=world.hr).text


def test_a_hidden_document_is_answered_like_a_missing_one(world: World) -> None:
    missing = str(uuid.uuid4())
    for method, suffix in [("GET", ""), ("GET", "/file"), ("DELETE", ""), ("POST", "/reindex")]:
        hidden = world.client.request(
            method, f"/api/documents/{world.hr_id}{suffix}", headers=world.eng
        )
        absent = world.client.request(
            method, f"/api/documents/{missing}{suffix}", headers=world.eng
        )
        assert hidden.status_code == absent.status_code == 404, (method, suffix, hidden.text)
        assert hidden.json()["detail"].replace(world.hr_id, "?") == absent.json()["detail"].replace(
            missing, "?"
        )
    patched = world.client.patch(
        f"/api/documents/{world.hr_id}", json={"groups": ["eng"]}, headers=world.eng
    )
    assert patched.status_code == 404
    # Still there, and still HR's.
    document = world.client.get(f"/api/documents/{world.hr_id}", headers=world.hr)
    assert document.status_code == 200 and document.json()["groups"] == ["hr"]
    served = world.client.get(f"/api/documents/{world.hr_id}/file", headers=world.hr)
    assert served.status_code == 200 and "platypus" in served.text


def test_jobs_are_listed_by_group(world: World) -> None:
    hr_jobs = world.client.get("/api/jobs", headers=world.hr).json()
    eng_jobs = world.client.get("/api/jobs", headers=world.eng).json()
    assert len(hr_jobs) == 1 and len(eng_jobs) == 1
    assert hr_jobs[0]["id"] != eng_jobs[0]["id"]
    hidden = world.client.get(f"/api/jobs/{hr_jobs[0]['id']}", headers=world.eng)
    assert hidden.status_code == 404
    page = world.client.get("/jobs", headers=world.eng)
    assert page.status_code == 200 and hr_jobs[0]["id"] not in page.text


def test_feedback_citing_a_hidden_document_is_not_listed(world: World) -> None:
    body = {
        "question": "Which band applies?",
        "answer": "The band pays well [1].",
        "rating": 1,
        "citations": [{"n": 1, "document_id": world.hr_id, "title": "Quokka Remuneration Ledger"}],
    }
    created = world.client.post("/api/feedback", json=body, headers=world.hr)
    assert created.status_code == 201 and created.json()["author"] == "hr"
    assert world.hr_id in world.client.get("/api/feedback", headers=world.hr).text
    listed = world.client.get("/api/feedback", headers=world.eng)
    assert listed.status_code == 200
    assert_hidden(listed.text, world)
    page = world.client.get("/admin/feedback", headers=world.eng)
    assert page.status_code == 200
    assert_hidden(page.text, world)


# --- changing access -----------------------------------------------------------------------


def test_changing_groups_updates_the_index_without_reindexing(world: World) -> None:
    query: dict[str, str | int] = {"q": "lentil soup halloumi canteen", "k": 5, "mode": "sparse"}

    def eng_sees_canteen() -> bool:
        response = world.client.get("/api/search", params=query, headers=world.eng)
        return world.shared_id in response.text

    assert not eng_sees_canteen()
    before = world.client.get(f"/api/documents/{world.shared_id}", headers=world.root).json()
    # An administrator may only hand out groups they hold.
    refused = world.client.patch(
        f"/api/documents/{world.shared_id}", json={"groups": ["hr", "eng"]}, headers=world.hr
    )
    assert refused.status_code == 403 and "eng" in refused.json()["detail"]
    changed = world.client.patch(
        f"/api/documents/{world.shared_id}", json={"groups": ["hr", "eng"]}, headers=world.root
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["groups"] == ["hr", "eng"]
    assert changed.json()["indexed_at"] == before["indexed_at"]  # not re-indexed
    assert eng_sees_canteen()
    world.client.patch(
        f"/api/documents/{world.shared_id}", json={"groups": ["hr"]}, headers=world.root
    )
    assert not eng_sees_canteen()


def test_uploads_only_into_the_callers_groups(world: World) -> None:
    files = [("files", ("note.md", b"# Note\n\nA short note.\n", "text/markdown"))]
    refused = world.client.post(
        "/api/documents", files=files, data={"groups": "hr"}, headers=world.eng
    )
    assert refused.status_code == 403, refused.text
    assert "hr" in refused.json()["detail"]
    # Nor into another group's source by naming it: the name becomes a source of eng's own,
    # answered as for any new name, so the reply does not reveal that HR's exists.
    into_hr = world.client.post(
        "/api/documents", files=files, data={"source": "hr-docs"}, headers=world.eng
    )
    assert into_hr.status_code == 202, into_hr.text
    assert into_hr.json()["source"] == "eng/hr-docs"


def test_the_audit_trail_is_read_only_by_a_caller_who_sees_every_group(world: World) -> None:
    """The audit holds what people asked and which documents they read: an administrator of
    the "eng" group must not read what HR asked (the question names HR's secret band)."""
    asked = world.client.post("/api/ask", json={"question": QUESTION}, headers=world.hr)
    assert asked.status_code == 200, asked.text
    control = world.client.get("/api/audit", headers=world.root)
    assert control.status_code == 200, control.text
    assert "ZEBRA-7731" in control.text and world.hr_id in control.text
    refused = world.client.get("/api/audit", headers=world.eng)
    assert refused.status_code == 403, refused.text
    assert "every group" in refused.json()["detail"]
    assert_hidden(refused.text, world)
    assert "ZEBRA-7731" not in refused.text
