"""Access groups from a folder's `.enclave-acl`, kept in step by syncs without re-embedding;
groups an administrator pinned survive syncs; forced re-indexing of a file or a source."""

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from litestar.testing import TestClient

from app.main import create_app
from cli.main import main
from enclave.db import Database, Document, Job, JobKind
from enclave.db.documents import DocumentRepository
from enclave.db.migrate import upgrade
from enclave.embedder import Embedder
from enclave.queue import enqueue_reindex, register_source
from enclave.settings import Settings
from enclave.vectorstore import SearchFilter, SearchMode, VectorStore
from ingest.acl import ACL_FILE
from ingest.files import Outcome
from ingest.pipeline import Ingestor
from ingest.worker import JobReport, Worker, sync_now
from tests.support.apps import built_services

PAYROLL = "# Payroll\n\nThe salary bands for engineers are reviewed every March by the board.\n"
CANTEEN = "# Canteen\n\nThe canteen serves vegetarian lasagne on Thursdays at noon.\n"
MERGER = "# Merger\n\nProject Kestrel is the codename of the confidential merger talks.\n"


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    root = tmp_path / "docs"
    (root / "hr" / "board").mkdir(parents=True)
    (root / "canteen.md").write_text(CANTEEN)
    (root / "hr" / "payroll.md").write_text(PAYROLL)
    (root / "hr" / ACL_FILE).write_text("# HR only\nhr, hr-managers\n")
    (root / "hr" / "board" / "merger.md").write_text(MERGER)
    (root / "hr" / "board" / ACL_FILE).write_text("board\n")
    return root


@pytest.fixture
def worker(database: Database, store: VectorStore, embedder: Embedder) -> Worker:
    return Worker(database, Ingestor(database, store, embedder, max_chunk_tokens=256))


def groups_by_name(database: Database) -> dict[str, list[str]]:
    with database.session() as session:
        documents = session.query(Document).all()
        return {Path(d.source_path).name: sorted(d.groups) for d in documents}


def found(store: VectorStore, embedder: Embedder, text: str, groups: list[str]) -> bool:
    """Whether a caller holding `groups` finds the chunk carrying `text`."""
    vector = embedder.embed_query(text)
    hits = store.search(
        vector, 5, text=text, mode=SearchMode.HYBRID, filters=SearchFilter(groups=groups)
    )
    return any(text in hit.text for hit in hits)


def outcomes(report: JobReport) -> dict[str, str]:
    return {Path(r.path).name: r.status.value for r in report.files}


def test_the_nearest_acl_file_gives_the_groups(
    worker: Worker, folder: Path, database: Database, store: VectorStore, embedder: Embedder
) -> None:
    sync_now(worker, folder, groups=["staff"])
    assert groups_by_name(database) == {
        "canteen.md": ["staff"],
        "payroll.md": ["hr", "hr-managers"],
        "merger.md": ["board"],  # the nearer file wins over hr/'s
    }
    assert found(store, embedder, "salary bands", ["hr"])
    assert not found(store, embedder, "salary bands", ["staff"])
    assert not found(store, embedder, "Project Kestrel", ["hr"])
    assert found(store, embedder, "Project Kestrel", ["board"])


def test_changing_an_acl_file_moves_the_chunks_without_re_embedding(
    worker: Worker, folder: Path, database: Database, store: VectorStore, embedder: Embedder
) -> None:
    sync_now(worker, folder, groups=["staff"])
    (folder / "hr" / ACL_FILE).write_text("finance\n")
    report = sync_now(worker, folder, groups=["staff"])
    assert outcomes(report)["payroll.md"] == Outcome.UNCHANGED  # not parsed or embedded again
    assert groups_by_name(database)["payroll.md"] == ["finance"]
    assert found(store, embedder, "salary bands", ["finance"])
    assert not found(store, embedder, "salary bands", ["hr"])

    # Without the file, the source's groups apply again.
    (folder / "hr" / ACL_FILE).unlink()
    sync_now(worker, folder, groups=["staff"])
    assert groups_by_name(database)["payroll.md"] == ["staff"]
    assert groups_by_name(database)["merger.md"] == ["board"]  # its own file still applies
    assert found(store, embedder, "salary bands", ["staff"])


def test_changing_a_sources_groups_reaches_its_unchanged_documents(
    worker: Worker, folder: Path, database: Database, store: VectorStore, embedder: Embedder
) -> None:
    sync_now(worker, folder, groups=["staff"])
    sync_now(worker, folder, groups=["everyone"])
    assert groups_by_name(database)["canteen.md"] == ["everyone"]
    assert found(store, embedder, "vegetarian lasagne", ["everyone"])
    assert not found(store, embedder, "vegetarian lasagne", ["staff"])


def test_an_unusable_acl_file_fails_its_documents_closed(
    worker: Worker, folder: Path, database: Database, store: VectorStore, embedder: Embedder
) -> None:
    sync_now(worker, folder, groups=["staff"])
    (folder / "hr" / ACL_FILE).write_text("hr, not a group!\n")
    report = sync_now(worker, folder, groups=["staff"])
    failed = {Path(r.path).name: r.error or "" for r in report.failed}
    assert list(failed) == ["payroll.md"], failed
    assert ACL_FILE in failed["payroll.md"] and "invalid group name" in failed["payroll.md"]
    assert outcomes(report)["canteen.md"] == Outcome.UNCHANGED  # the others go on
    # Nobody restricted sees it any more, not even under the groups it had.
    assert groups_by_name(database)["payroll.md"] == []
    assert not found(store, embedder, "salary bands", ["hr"])
    assert not found(store, embedder, "salary bands", ["staff"])

    (folder / "hr" / ACL_FILE).write_text("\n# nothing but a comment\n")
    report = sync_now(worker, folder, groups=["staff"])
    assert "names no group" in {Path(r.path).name: r.error for r in report.failed}["payroll.md"]


def test_pinned_groups_survive_syncs(
    worker: Worker,
    folder: Path,
    database: Database,
    store: VectorStore,
    embedder: Embedder,
    settings: Settings,
) -> None:
    from app.library import Library

    sync_now(worker, folder, groups=["staff"])
    with database.session() as session:
        payroll = DocumentRepository(session).by_path(str(folder / "hr" / "payroll.md"))
        assert payroll is not None
        payroll_id = payroll.id
    library = Library(settings, database, worker.ingestor)
    assert library.set_groups(payroll_id, ["payroll-team"])
    (folder / "hr" / ACL_FILE).write_text("everyone\n")
    sync_now(worker, folder, groups=["staff"])
    assert groups_by_name(database)["payroll.md"] == ["payroll-team"]
    assert not found(store, embedder, "salary bands", ["everyone"])
    assert found(store, embedder, "salary bands", ["payroll-team"])


def test_the_same_file_in_two_groups_is_found_by_both(
    worker: Worker, folder: Path, database: Database, store: VectorStore, embedder: Embedder
) -> None:
    (folder / "canteen-copy.md").write_text(PAYROLL)  # payroll.md's bytes, outside hr/
    report = sync_now(worker, folder, groups=["staff"])
    assert not any(r.status == Outcome.FAILED for r in report.files)
    with database.session() as session:
        copy = DocumentRepository(session).by_path(str(folder / "canteen-copy.md"))
        assert copy is not None and copy.duplicate_of is None and copy.chunk_count > 0
    assert found(store, embedder, "salary bands", ["staff"])
    assert found(store, embedder, "salary bands", ["hr"])


def test_reindex_indexes_unchanged_files_again(
    worker: Worker, folder: Path, database: Database
) -> None:
    first = sync_now(worker, folder, groups=["staff"])
    assert set(outcomes(first).values()) == {Outcome.ADDED}
    source = register_source(database, folder.resolve(), groups=["staff"])
    with database.session() as session:
        before = {d.source_path: d.indexed_at for d in session.query(Document).all()}

    one = enqueue_reindex(database, source, [folder.resolve() / "canteen.md"])
    with database.session() as session:
        job = session.get(Job, one)
        assert job is not None and job.kind == JobKind.REINDEX
    report = worker.run_once(one)
    assert report is not None
    assert outcomes(report) == {"canteen.md": Outcome.UPDATED}

    (folder / "canteen.md").unlink()
    whole = enqueue_reindex(database, source)
    report = worker.run_once(whole)
    assert report is not None
    assert outcomes(report) == {
        "payroll.md": Outcome.UPDATED,
        "merger.md": Outcome.UPDATED,
        "canteen.md": Outcome.DELETED,  # a whole-source re-index is a sync too
    }
    with database.session() as session:
        after = {d.source_path: d.indexed_at for d in session.query(Document).all()}
    assert all(after[path] != before[path] for path in after)


def test_cli_reindex_and_group_names(settings: Settings, folder: Path) -> None:
    env = {
        "ENCLAVE_DATA_DIR": str(settings.data_dir),
        "ENCLAVE_DATABASE_URL": settings.database_url,
    }
    runner = CliRunner()
    bad = runner.invoke(main, ["ingest", str(folder), "--groups", "hr, two words"], env=env)
    assert bad.exit_code == 2 and "invalid group name" in bad.output

    first = runner.invoke(main, ["ingest", str(folder), "--json"], env=env)
    assert first.exit_code == 0, first.output
    again = runner.invoke(main, ["ingest", str(folder), "--json", "--reindex"], env=env)
    assert again.exit_code == 0, again.output
    assert json.loads(again.output)["totals"]["updated"] == 3, again.output


@pytest.fixture
def client(settings: Settings, embedder: Embedder, folder: Path) -> Iterator[TestClient]:
    with built_services(settings, embedder) as services:
        sync_now(services.worker, folder, groups=["staff"])
        with TestClient(create_app(settings, services=services)) as test_client:
            yield test_client


def document_id(client: TestClient, name: str) -> str:
    listing = client.get("/api/documents", params={"q": name}).json()
    return str(listing["documents"][0]["id"])


def test_reindex_over_http(client: TestClient, folder: Path) -> None:
    payroll = document_id(client, "payroll")
    response = client.post(f"/api/documents/{payroll}/reindex")
    assert response.status_code == 202, response.text
    job_id = response.json()["job_id"]
    deadline = time.monotonic() + 60
    while (job := client.get(f"/api/jobs/{job_id}").json())["status"] not in (
        "succeeded",
        "failed",
    ):
        assert time.monotonic() < deadline
        time.sleep(0.2)
    assert job["kind"] == "reindex" and job["totals"]["updated"] == 1, job

    assert client.post("/api/documents/no-such-id/reindex").status_code == 404
    (folder / "canteen.md").unlink()
    gone = client.post(f"/api/documents/{document_id(client, 'canteen')}/reindex")
    assert gone.status_code == 409 and "gone" in gone.json()["detail"]

    page = client.post(f"/library/{payroll}/reindex", follow_redirects=False)
    assert page.status_code == 303 and page.headers["location"].startswith("/jobs/")
    library = client.get("/library").text
    assert f'action="/library/{payroll}/reindex"' in library


def test_acl_groups_hold_on_the_api(
    settings: Settings, embedder: Embedder, folder: Path, database: Database
) -> None:
    """Through the service with keys: a caller outside the folder's groups never sees it."""
    from enclave.access.keys import create_key

    secured = settings.model_copy(update={"auth": "on", "min_relevance": -1.0})
    upgrade(secured.database_url)
    tokens = {
        who: create_key(database, who, groups, ["search", "ask"]).token
        for who, groups in {"staff": ["staff"], "hr": ["hr"]}.items()
    }
    with built_services(secured, embedder) as services:
        sync_now(services.worker, folder, groups=["staff"])
        with TestClient(create_app(secured, services=services)) as client:
            seen = {}
            for who, token in tokens.items():
                headers = {"Authorization": f"Bearer {token}"}
                found = client.get(
                    "/api/search", params={"q": "salary bands reviewed", "k": 10}, headers=headers
                ).json()["results"]
                listed = client.get("/api/documents", headers=headers).json()
                seen[who] = (
                    any("salary bands" in r["text"] for r in found),
                    sorted(d["title"] for d in listed["documents"]),
                )
    assert seen["hr"] == (True, ["Payroll"])
    assert seen["staff"] == (False, ["Canteen"])
