"""The document library over HTTP against the real app: upload → job progress → searchable
→ listed → downloaded → deleted; hostile file names and sizes are refused."""

from collections.abc import Iterator
from pathlib import Path

import pytest
from litestar.testing import TestClient

from enclave.embedder import Embedder
from enclave.settings import Settings
from tests.conftest import tiny_model_settings
from tests.support.apps import app_client
from tests.support.jobs import wait_for_job

HANDBOOK = b"# Parking rules\n\nVisitors park on level minus two. Bicycle racks are at gate C.\n"


@pytest.fixture
def app_settings(tmp_path: Path, database_url: str, tiny_gguf: Path) -> Settings:
    return tiny_model_settings(
        tmp_path / "var",
        tiny_gguf,
        database_url=database_url,
        llm_max_tokens=8,
        max_file_mb=0.01,  # 10 KB: lets a test exceed it cheaply
    )


@pytest.fixture
def client(app_settings: Settings, embedder: Embedder) -> Iterator[TestClient]:
    # The app runs its in-process worker: uploads are ingested in the background.
    with app_client(app_settings, embedder) as test_client:
        yield test_client


def test_upload_becomes_searchable_then_deleted(client: TestClient) -> None:
    response = client.post(
        "/api/documents",
        files=[
            ("files", ("parking.md", HANDBOOK, "text/markdown")),
            ("files", ("broken.pdf", b"%PDF-1.4 garbage", "application/pdf")),
        ],
        data={"source": "Facilities", "groups": "staff, facilities"},
    )
    assert response.status_code == 202, response.text
    receipt = response.json()
    assert receipt["files"] == ["parking.md", "broken.pdf"] and receipt["source"] == "Facilities"

    job = wait_for_job(client, receipt["job_id"])
    # One of the two files failed: the job says so.
    assert job["status"] == "completed_with_errors" and job["kind"] == "upload"
    assert job["files_total"] == job["files_done"] == 2
    assert job["totals"]["added"] == 1 and job["totals"]["failed"] == 1  # type: ignore[index]
    assert [e["path"].endswith("broken.pdf") for e in job["errors"]] == [True]  # type: ignore[attr-defined]

    hit = client.get("/api/search", params={"q": "where do visitors park", "k": 1}).json()
    assert "level minus two" in hit["results"][0]["text"]
    document_id = hit["results"][0]["document_id"]

    listing = client.get("/api/documents", params={"status": "indexed"}).json()
    assert listing["total"] == 1 and listing["documents"][0]["id"] == document_id
    failed = client.get("/api/documents", params={"status": "failed"}).json()
    assert failed["total"] == 1 and failed["documents"][0]["error"]

    shown = client.get(f"/api/documents/{document_id}").json()
    assert shown["chunk_count"] >= 1 and shown["groups"] == ["staff", "facilities"]
    assert client.get(f"/api/documents/{document_id}/file").content == HANDBOOK

    assert client.delete(f"/api/documents/{document_id}").status_code == 204
    assert client.get(f"/api/documents/{document_id}").status_code == 404
    after = client.get("/api/search", params={"q": "where do visitors park", "k": 5}).json()
    assert all(r["document_id"] != document_id for r in after["results"])


def test_upload_file_names_cannot_escape_the_upload_folder(
    client: TestClient, app_settings: Settings
) -> None:
    response = client.post(
        "/api/documents",
        files=[("files", ("../../../evil.md", b"# Evil\n\nnot outside", "text/markdown"))],
    )
    assert response.status_code == 202, response.text
    assert response.json()["files"] == ["evil.md"]
    wait_for_job(client, response.json()["job_id"])
    uploads = (app_settings.data_dir / "uploads").resolve()
    assert (uploads / "uploads" / "evil.md").is_file()
    assert not (app_settings.data_dir.parent / "evil.md").exists()
    for name in ("..", "/", "...", "\\\\"):
        bad = client.post("/api/documents", files=[("files", (name, b"x", "text/plain"))])
        assert bad.status_code == 400, (name, bad.text)
        assert "detail" in bad.json()


def test_upload_limits_and_bad_requests(client: TestClient) -> None:
    too_big = client.post(
        "/api/documents", files=[("files", ("big.txt", b"x" * 20_000, "text/plain"))]
    )
    assert too_big.status_code == 413 and "larger than" in too_big.json()["detail"]
    assert client.post("/api/documents", data={"source": "x"}).status_code == 400
    assert client.get("/api/jobs/not-a-job").status_code == 404
    assert client.get("/api/documents/nope").status_code == 404
    assert client.delete("/api/documents/nope").status_code == 404
    assert client.get("/api/documents/nope/file").status_code == 404
    assert client.get("/api/documents", params={"limit": 0}).status_code == 400
    assert client.get("/api/documents", params={"status": "bogus"}).status_code == 400


def test_jobs_are_listed(client: TestClient) -> None:
    receipt = client.post(
        "/api/documents", files=[("files", ("a.txt", b"Alpha release notes.", "text/plain"))]
    ).json()
    wait_for_job(client, receipt["job_id"])
    jobs = client.get("/api/jobs").json()
    assert [j["id"] for j in jobs] == [receipt["job_id"]]
