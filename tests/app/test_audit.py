"""The audit trail: every search, question, upload, delete, key and permission change is
recorded with its caller, time, documents, model settings, latency and outcome; the admin
API and `enclave audit export` read it back; retention purges it; hashing hides queries.

Real parts: the MiniLM embedder, the Edge store, SQLite, llama.cpp with the tiny GGUF.
"""

import csv
import dataclasses
import hashlib
import io
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner
from litestar.testing import TestClient
from sqlalchemy import text

from app.answering.generation import Generator
from app.main import create_app
from app.services import Services
from cli.main import main
from enclave.access.audit import AuditRecorder
from enclave.access.keys import create_key
from enclave.db import AuditEvent, Database
from enclave.db.audit import AuditRepository
from enclave.db.migrate import upgrade
from enclave.db.models import utcnow
from enclave.embedder import Embedder
from enclave.settings import Settings
from tests.conftest import index_folder, tiny_model_settings
from tests.support.apps import built_services
from tests.support.serving import serving
from tests.support.sse import iter_events, model_held, parse_sse, wait_until

QUESTION = "When are deployments to production?"
RUNBOOK = """# Deployment runbook

Deployments to production happen on Tuesdays. The release engineer tags the build and
watches the error dashboard for thirty minutes after each deploy.
"""


@dataclass(frozen=True)
class World:
    settings: Settings
    services: Services
    client: TestClient[Any]
    admin: dict[str, str]
    reader: dict[str, str]
    reader_id: str
    document_id: str


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def events(world: World) -> list[AuditEvent]:
    with world.services.database.session() as session:
        rows = list(AuditRepository(session).since(None))
        session.expunge_all()
        return rows


@pytest.fixture(scope="module")
def world(
    tmp_path_factory: pytest.TempPathFactory, tiny_gguf: Path, embedder: Embedder
) -> Iterator[World]:
    tmp = tmp_path_factory.mktemp("audit")
    settings = tiny_model_settings(
        tmp / "var",
        tiny_gguf,
        database_url=f"sqlite:///{tmp / 'enclave.db'}",
        auth="on",
        min_relevance=-1.0,
        llm_max_tokens=8,
        default_groups=["eng"],
    )
    folder = tmp / "docs"
    folder.mkdir()
    (folder / "runbook.md").write_text(RUNBOOK)
    report = index_folder(settings, embedder, folder)
    assert not report.failed
    upgrade(settings.database_url)
    database = Database.from_settings(settings)
    try:
        admin = create_key(database, "admin", ["*"], ["admin"])
        reader = create_key(database, "reader", ["*"], ["search", "ask"])
        with database.session() as session:
            document_id = session.execute(text("SELECT id FROM documents")).scalar_one()
    finally:
        database.dispose()
    with (
        built_services(settings, embedder) as services,
        TestClient(create_app(services=services)) as client,
    ):
        yield World(
            settings,
            services,
            client,
            bearer(admin.token),
            bearer(reader.token),
            f"key:{reader.key.id}",
            document_id,
        )


def last(world: World, action: str) -> AuditEvent:
    found = [e for e in events(world) if e.action == action]
    assert found, f"no {action} event in {[e.action for e in events(world)]}"
    return found[-1]


def test_search_is_recorded_with_caller_query_and_results(world: World) -> None:
    response = world.client.get(
        "/api/search", params={"q": "production deployments", "k": 3}, headers=world.reader
    )
    assert response.status_code == 200
    results = response.json()["results"]
    assert results
    event = last(world, "search")
    assert event.actor == world.reader_id and event.actor_name == "reader"
    assert event.query == "production deployments"
    recorder = AuditRecorder(world.services.database, world.settings)
    assert event.query_hash == recorder.query_hash("production deployments")
    # Keyed: a plain SHA-256 of a guessed question does not confirm it.
    assert event.query_hash != hashlib.sha256(b"production deployments").hexdigest()
    assert event.chunks == [r["chunk_id"] for r in results]
    assert event.documents == [world.document_id]
    assert event.status == 200 and event.outcome == "ok" and event.latency_ms > 0
    assert event.method == "GET" and event.path == "/api/search"
    assert event.detail["mode"] and event.detail["k"] == 3


def test_ask_json_and_stream_record_model_settings_and_passages(world: World) -> None:
    response = world.client.post("/api/ask", json={"question": QUESTION}, headers=world.reader)
    assert response.status_code == 200, response.text
    event = last(world, "ask")
    assert event.query == QUESTION and event.outcome == "ok"
    assert event.detail["model"] == world.settings.llm_model_path.name  # type: ignore[union-attr]
    assert event.detail["temperature"] == world.settings.llm_temperature
    assert event.chunks and event.documents == [world.document_id]
    assert "abstained" in event.detail

    before = len(events(world))
    stream = world.client.post(
        "/api/ask", json={"question": QUESTION, "stream": True}, headers=world.reader
    )
    assert parse_sse(stream.text)[-1][0] == "done"
    streamed = events(world)[before:]
    assert [e.action for e in streamed] == ["ask"]
    # Recorded at the stream's end, so the passages read are known.
    assert streamed[0].chunks and streamed[0].documents == [world.document_id]

    chat = world.client.post(
        "/v1/chat/completions",
        json={"model": "enclave", "messages": [{"role": "user", "content": QUESTION}]},
        headers=world.reader,
    )
    assert chat.status_code == 200, chat.text
    event = last(world, "ask")
    assert event.path == "/v1/chat/completions" and event.chunks and event.detail["model"]


def event(world: World, event_id: str) -> AuditEvent:
    with world.services.database.session() as session:
        found = session.get(AuditEvent, event_id)
        assert found is not None
        session.expunge(found)
        return found


def new_events(world: World, before: set[str]) -> list[AuditEvent]:
    return [e for e in events(world) if e.id not in before]


def test_a_question_is_on_record_before_its_answer_is_generated(world: World) -> None:
    """The event is stored when generation is about to start, as `incomplete`: if the
    service died now, the question would stay on record. The model's one thread is held,
    so no token can exist while the database is read; then the same event is completed."""
    before = {e.id for e in events(world)}
    with (
        serving(create_app(services=world.services)) as url,
        httpx.Client(base_url=url, timeout=httpx.Timeout(60.0)) as http,
        model_held(world.services.generator) as gate,
        http.stream(
            "POST", "/api/ask", json={"question": QUESTION, "stream": True}, headers=world.reader
        ) as response,
    ):
        assert response.status_code == 200
        stream = iter_events(response)
        assert next(stream)[0] == "sources"
        assert world.services.generator.waiting == 1  # admitted, and the model is held
        started = new_events(world, before)
        assert [(e.action, e.status, e.outcome) for e in started] == [("ask", 0, "incomplete")]
        assert started[0].query == QUESTION and started[0].actor == world.reader_id
        assert started[0].detail["model"] == world.settings.llm_model_path.name  # type: ignore[union-attr]
        gate.set()
        assert [kind for kind, _ in stream][-1] == "done"
    # Completed by the middleware once the last byte has gone: the same event.
    wait_until(lambda: event(world, started[0].id).outcome != "incomplete")
    done = event(world, started[0].id)
    assert (done.status, done.outcome) == (200, "ok") and done.latency_ms > 0
    assert done.chunks and done.documents == [world.document_id] and "abstained" in done.detail
    assert done.created_at == started[0].created_at
    assert [e.id for e in new_events(world, before)] == [done.id]  # no second event


def test_a_chat_completion_is_on_record_while_it_waits_for_the_model(world: World) -> None:
    """The JSON reply of /v1/chat/completions: the event is there while the request waits
    for the held model, and is completed with the reply."""
    before = {e.id for e in events(world)}
    replies: list[httpx.Response] = []
    body = {"model": "enclave", "messages": [{"role": "user", "content": QUESTION}]}
    with serving(create_app(services=world.services)) as url:
        with model_held(world.services.generator) as gate:

            def ask() -> None:
                with httpx.Client(base_url=url, timeout=httpx.Timeout(120.0)) as http:
                    replies.append(
                        http.post("/v1/chat/completions", json=body, headers=world.reader)
                    )

            asking = threading.Thread(target=ask)
            asking.start()
            wait_until(lambda: bool(new_events(world, before)))
            started = new_events(world, before)
            assert [(e.path, e.outcome) for e in started] == [
                ("/v1/chat/completions", "incomplete")
            ]
            assert started[0].query == QUESTION and not replies
            gate.set()
            asking.join(timeout=120)
        assert replies and replies[0].status_code == 200, replies
    done = event(world, started[0].id)
    assert (done.status, done.outcome) == (200, "ok") and done.chunks
    assert [e.id for e in new_events(world, before)] == [done.id]


def test_a_failed_generation_completes_its_event_as_an_error(world: World) -> None:
    """A model that cannot run (its thread pool is shut down: every generation raises). The
    stream's reply had begun with 200; its event, stored before generation, ends `error`."""
    running = world.services.generator
    broken = Generator(running.backend, running.options, queue_size=1)
    broken._executor.shutdown()
    services = dataclasses.replace(
        world.services,
        generator=broken,
        answers=dataclasses.replace(world.services.answers, generator=broken),
    )
    before = {e.id for e in events(world)}
    with TestClient(create_app(services=services)) as client:
        stream = client.post(
            "/api/ask", json={"question": QUESTION, "stream": True}, headers=world.reader
        )
        assert [kind for kind, _ in parse_sse(stream.text)] == ["sources", "error"]
        failed = new_events(world, before)
        assert [(e.action, e.status, e.outcome) for e in failed] == [("ask", 200, "error")]
        assert failed[0].detail["failed"] is True and failed[0].query == QUESTION

        before = {e.id for e in events(world)}
        plain = client.post("/api/ask", json={"question": QUESTION}, headers=world.reader)
        assert plain.status_code == 500
        failed = new_events(world, before)
        assert [(e.action, e.status, e.outcome) for e in failed] == [("ask", 500, "error")]


def test_the_page_answer_is_recorded_as_a_question(world: World) -> None:
    before = {e.id for e in events(world)}
    page = world.client.get("/", params={"q": QUESTION, "answer": "true"}, headers=world.reader)
    assert page.status_code == 200, page.text
    recorded = new_events(world, before)
    assert [(e.action, e.path, e.outcome) for e in recorded] == [("ask", "/", "ok")]
    assert recorded[0].query == QUESTION and recorded[0].chunks and recorded[0].detail["model"]


def test_denied_and_unauthenticated_requests_are_recorded(world: World) -> None:
    assert world.client.get("/api/audit", headers=world.reader).status_code == 403
    event = last(world, "audit_read")
    assert event.actor == world.reader_id and event.outcome == "denied" and event.status == 403
    assert world.client.get("/api/search", params={"q": "x"}).status_code == 401
    event = last(world, "search")
    assert event.actor == "-" and event.outcome == "denied" and event.query == "x"


def test_permission_change_and_delete_are_recorded(world: World) -> None:
    changed = world.client.patch(
        f"/api/documents/{world.document_id}", json={"groups": ["ops"]}, headers=world.admin
    )
    assert changed.status_code == 200, changed.text
    event = last(world, "permission_change")
    assert event.documents == [world.document_id] and event.detail["groups"] == ["ops"]
    assert event.actor.startswith("key:") and event.outcome == "ok"
    # Deleting a document that does not exist: recorded, as rejected.
    assert world.client.delete("/api/documents/nope", headers=world.admin).status_code == 404
    event = last(world, "delete")
    assert event.documents == ["nope"] and event.outcome == "rejected"


def test_upload_is_recorded(world: World) -> None:
    response = world.client.post(
        "/api/documents",
        files={"files": ("notes.md", b"# Notes\n\nThe canteen opens at eight.\n")},
        headers=world.admin,
    )
    assert response.status_code == 202, response.text
    event = last(world, "upload")
    assert event.detail["job_id"] == response.json()["job_id"]
    assert event.detail["files"] == ["notes.md"]


def test_admin_api_lists_events_since(world: World) -> None:
    world.client.get("/api/search", params={"q": "dashboard"}, headers=world.reader)
    response = world.client.get(
        "/api/audit", params={"since": "2000-01-01", "limit": 500}, headers=world.admin
    )
    assert response.status_code == 200, response.text
    listed = response.json()["events"]
    assert any(e["query"] == "dashboard" and e["actor"] == world.reader_id for e in listed)
    future = world.client.get("/api/audit", params={"since": "2999-01-01"}, headers=world.admin)
    assert future.status_code == 200 and future.json()["events"] == []
    bad = world.client.get("/api/audit", params={"since": "yesterday"}, headers=world.admin)
    assert bad.status_code == 400 and "ISO 8601" in bad.text


def test_hashed_queries_keep_no_text(world: World) -> None:
    hashed = world.settings.model_copy(update={"audit_hash_queries": True})
    secret = "salary of the chief executive"
    with TestClient(create_app(hashed, services=world.services)) as client:
        assert client.get("/api/search", params={"q": secret}, headers=world.reader).is_success
        answer = client.post("/api/ask", json={"question": secret}, headers=world.reader)
        assert answer.status_code == 200
    with world.services.database.engine.connect() as connection:
        rows = connection.execute(text("SELECT * FROM audit_events")).mappings().all()
    dump = json.dumps([{k: str(v) for k, v in r.items()} for r in rows])
    assert secret not in dump
    digest = AuditRecorder(world.services.database, hashed).query_hash(secret)
    hashed_rows = [r for r in rows if r["query_hash"] == digest]
    assert {r["action"] for r in hashed_rows} == {"search", "ask"}
    assert all(r["query"] is None for r in hashed_rows)


def test_retention_purges_old_events_only(world: World) -> None:
    recorder = AuditRecorder(world.services.database, world.settings)
    old = recorder.record(actor="t", actor_name="t", action="search", query="old one")
    with world.services.database.session() as session:
        row = session.get(AuditEvent, old.id)
        assert row is not None
        row.created_at = utcnow() - timedelta(days=world.settings.audit_retention_days + 1)
    kept = len(events(world)) - 1
    assert recorder.purge() == 1
    assert len(events(world)) == kept
    unlimited = world.settings.model_copy(update={"audit_retention_days": 0})
    assert AuditRecorder(world.services.database, unlimited).purge() == 0


def test_cli_export_jsonl_and_csv_and_key_changes(world: World, tmp_path: Path) -> None:
    env = {
        "ENCLAVE_DATABASE_URL": world.settings.database_url,
        "ENCLAVE_DATA_DIR": str(world.settings.data_dir),
    }
    runner = CliRunner()
    created = runner.invoke(
        main, ["keys", "create", "--name", "ci", "--groups", "eng", "--scopes", "search"], env=env
    )
    assert created.exit_code == 0, created.output
    revoked = runner.invoke(main, ["keys", "revoke", "ci"], env=env)
    assert revoked.exit_code == 0, revoked.output

    out = runner.invoke(main, ["audit", "export", "--since", "2000-01-01"], env=env)
    assert out.exit_code == 0, out.output
    rows = [json.loads(line) for line in out.stdout.splitlines() if line.startswith("{")]
    actions = [r["action"] for r in rows]
    assert "search" in actions and "ask" in actions
    assert actions[-2:] == ["key_create", "key_revoke"]
    assert rows[-1]["actor"].startswith("cli:") and rows[-1]["detail"]["name"] == "ci"
    token = created.stdout.strip().splitlines()[-1]
    assert token.startswith("enc_") and token not in out.stdout  # the key never logged

    target = tmp_path / "audit.csv"
    out = runner.invoke(main, ["audit", "export", "--format", "csv", "-o", str(target)], env=env)
    assert out.exit_code == 0, out.output
    table = list(csv.DictReader(io.StringIO(target.read_text())))
    assert len(table) == len(rows) and table[-1]["action"] == "key_revoke"
    assert json.loads(table[0]["detail"]) == rows[0]["detail"]

    none = runner.invoke(main, ["audit", "export", "--since", "2999-01-01"], env=env)
    assert none.exit_code == 0 and none.stdout.strip() == ""
    bad = runner.invoke(main, ["audit", "export", "--since", "soon"], env=env)
    assert bad.exit_code == 2 and "ISO 8601" in bad.output
    purged = runner.invoke(main, ["audit", "purge"], env=env)
    assert purged.exit_code == 0 and "purged 0" in purged.output
