"""The ingest pipeline on real parts: unstructured, MiniLM, Qdrant local mode, SQLite and
PostgreSQL (the `database_url` fixture runs every test on both)."""

import os
import shutil
from pathlib import Path

import pytest

from enclave.db import Database, DocumentStatus
from enclave.db.documents import DocumentRepository
from enclave.embedder import Embedder
from enclave.settings import Settings
from enclave.vectorstore import VectorStore, point_id
from ingest.files import Outcome
from ingest.pipeline import Ingestor
from ingest.worker import JobReport, Worker, sync_now
from tests.conftest import SAMPLES
from tests.support.docs_factory import write_corrupt_pdf, write_text_pdf


@pytest.fixture
def ingestor(
    settings: Settings, database: Database, store: VectorStore, embedder: Embedder
) -> Ingestor:
    return Ingestor(database, store, embedder, max_chunk_tokens=settings.chunk_max_tokens)


@pytest.fixture
def worker(database: Database, ingestor: Ingestor) -> Worker:
    return Worker(database, ingestor)


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "alpha.md").write_text(
        "# Alpha project\n\nThe alpha project ships the ledger importer in March.\n\n"
        "## Team\n\nThe alpha team is led by Ingrid Svensson in Oslo.\n"
    )
    (docs / "beta.txt").write_text("Beta notes. The beta cluster runs in the Frankfurt region.\n")
    write_text_pdf(
        docs / "gamma.pdf",
        [
            "Gamma report\n\nRevenue grew by twelve percent in the last quarter.\n"
            "The sales team in Lisbon closed four new accounts.",
            "Audit\n\nThe gamma audit is due in May.\nThe auditors visit the Porto office first.",
        ],
    )
    return docs


def statuses(report: JobReport) -> dict[str, Outcome]:
    return {Path(r.path).name: r.status for r in report.files}


def test_ingests_a_folder_and_records_documents(
    worker: Worker, folder: Path, database: Database, store: VectorStore
) -> None:
    report = sync_now(worker, folder)
    assert statuses(report) == {n: Outcome.ADDED for n in ("alpha.md", "beta.txt", "gamma.pdf")}
    with database.session() as session:
        documents = DocumentRepository(session).page()
        assert {Path(d.source_path).name for d in documents} == {
            "alpha.md",
            "beta.txt",
            "gamma.pdf",
        }
        for document in documents:
            assert document.status == DocumentStatus.INDEXED
            assert document.content_hash and len(document.content_hash) == 64
            assert document.chunk_count == store.count(document.id) > 0
            assert document.groups == ["public"]
    assert store.count() == report.totals()["chunks"]


def test_text_pdf_yields_chunks_with_page_numbers(
    ingestor: Ingestor, folder: Path, store: VectorStore, embedder: Embedder
) -> None:
    """Guards against the parser silently returning nothing (e.g. a missing spaCy model)."""
    result = ingestor.ingest_file(folder / "gamma.pdf")[-1]
    assert result.status == Outcome.ADDED and result.chunks >= 2
    hits = store.search(embedder.embed_query("When is the gamma audit due?"), limit=1)
    assert "audit is due in May" in hits[0].text
    assert hits[0].page == 2


def test_reingest_unchanged_folder_is_idempotent(
    worker: Worker, folder: Path, store: VectorStore
) -> None:
    first = sync_now(worker, folder)
    points = store.count()
    second = sync_now(worker, folder)
    assert set(statuses(second).values()) == {Outcome.UNCHANGED}
    assert store.count() == points
    assert second.totals()["chunks"] == first.totals()["chunks"]


def test_touched_but_identical_file_is_not_reparsed(
    ingestor: Ingestor, worker: Worker, folder: Path, store: VectorStore
) -> None:
    sync_now(worker, folder)
    path = folder / "beta.txt"
    stat = path.stat()
    os.utime(path, (stat.st_atime + 100, stat.st_mtime + 100))
    result = ingestor.ingest_file(path)[-1]
    assert result.status == Outcome.UNCHANGED  # content hash confirmed it


def test_changed_file_replaces_its_chunks(
    ingestor: Ingestor, worker: Worker, folder: Path, store: VectorStore, embedder: Embedder
) -> None:
    sync_now(worker, folder)
    path = folder / "alpha.md"
    before = ingestor.ingest_file(path)[-1]
    long_text = "\n\n".join(
        f"## Section {i}\n\n"
        + " ".join(f"Alpha milestone {i} item {j} is tracked." for j in range(40))
        for i in range(6)
    )
    path.write_text("# Alpha project\n\n" + long_text)
    grown = ingestor.ingest_file(path)[-1]
    assert grown.status == Outcome.UPDATED and grown.chunks > before.chunks
    assert store.count(grown.document_id) == grown.chunks

    path.write_text("# Alpha project\n\nThe alpha project was cancelled in April.\n")
    shrunk = ingestor.ingest_file(path)[-1]
    assert shrunk.status == Outcome.UPDATED
    assert shrunk.document_id == before.document_id  # same document, new content
    assert store.count(shrunk.document_id) == shrunk.chunks  # no leftovers from the long version
    texts = [h.text for h in store.search(embedder.embed_query("alpha project"), limit=20)]
    assert any("cancelled in April" in t for t in texts)
    assert not any("ledger importer" in t or "milestone" in t for t in texts)


def test_deleted_file_is_removed_on_reingest(
    worker: Worker, folder: Path, store: VectorStore, database: Database
) -> None:
    first = sync_now(worker, folder)
    beta_id = next(r.document_id for r in first.files if r.path.endswith("beta.txt"))
    assert beta_id and store.count(beta_id) > 0
    (folder / "beta.txt").unlink()
    second = sync_now(worker, folder)
    assert statuses(second)["beta.txt"] == Outcome.DELETED
    assert store.count(beta_id) == 0
    with database.session() as session:
        assert DocumentRepository(session).get(beta_id) is None
    # Deletion is scoped to the folder walked: ingesting another folder removes nothing.
    other = folder.parent / "other"
    other.mkdir()
    (other / "x.txt").write_text("Unrelated note about the delta team.")
    third = sync_now(worker, other)
    assert Outcome.DELETED not in set(statuses(third).values())
    assert store.count() == second.totals()["chunks"] + third.totals()["chunks"]


def test_corrupt_pdf_fails_alone_with_a_reason(
    worker: Worker, folder: Path, database: Database
) -> None:
    write_corrupt_pdf(folder / "broken.pdf")
    (folder / "empty.txt").write_text("")
    report = sync_now(worker, folder)
    outcome = statuses(report)
    assert outcome["broken.pdf"] == Outcome.FAILED
    assert outcome["empty.txt"] == Outcome.FAILED
    assert outcome["alpha.md"] == outcome["beta.txt"] == outcome["gamma.pdf"] == Outcome.ADDED
    with database.session() as session:
        repository = DocumentRepository(session)
        for name in ("broken.pdf", "empty.txt"):
            document = repository.by_path(str(folder / name))
            assert document is not None and document.status == DocumentStatus.FAILED
            assert document.error  # a reason a person can read
    assert all(r.error for r in report.failed)


def test_file_that_breaks_later_loses_its_old_chunks(
    ingestor: Ingestor, folder: Path, store: VectorStore
) -> None:
    good = ingestor.ingest_file(folder / "gamma.pdf")[-1]
    write_corrupt_pdf(folder / "gamma.pdf")
    broken = ingestor.ingest_file(folder / "gamma.pdf")[-1]
    assert broken.status == Outcome.FAILED and broken.document_id == good.document_id
    assert store.count(good.document_id) == 0


def test_point_ids_are_deterministic() -> None:
    assert point_id("doc", 3) == point_id("doc", 3)
    assert point_id("doc", 3) != point_id("doc", 4) != point_id("other", 3)


def test_every_sample_format_is_ingested(
    worker: Worker, tmp_path: Path, store: VectorStore
) -> None:
    samples = tmp_path / "samples"
    shutil.copytree(SAMPLES, samples, ignore=shutil.ignore_patterns("*.py"))
    report = sync_now(worker, samples)
    assert not report.failed, report.failed
    assert {Path(r.path).suffix for r in report.files} >= {".md", ".html", ".docx", ".pdf", ".txt"}
    assert all(r.chunks > 0 for r in report.files)


def test_duplicate_files_are_stored_once_and_listed_under_both_paths(
    worker: Worker, folder: Path, store: VectorStore, database: Database
) -> None:
    (folder / "copy").mkdir()
    shutil.copy(folder / "alpha.md", folder / "copy" / "alpha-copy.md")
    report = sync_now(worker, folder)
    by_name = {Path(r.path).name: r for r in report.files}
    original, duplicate = by_name["alpha.md"], by_name["alpha-copy.md"]
    assert original.chunks > 0 and duplicate.chunks == 0
    assert store.count(duplicate.document_id) == 0
    with database.session() as session:
        repository = DocumentRepository(session)
        copy = repository.get(duplicate.document_id or "")
        assert copy is not None and copy.status == DocumentStatus.INDEXED
        assert copy.duplicate_of == original.document_id
    # The original goes: the copy is indexed on its own, nothing is lost.
    (folder / "alpha.md").unlink()
    sync_now(worker, folder)
    assert store.count(duplicate.document_id) == original.chunks
    with database.session() as session:
        copy = DocumentRepository(session).get(duplicate.document_id or "")
        assert copy is not None and copy.duplicate_of is None and copy.chunk_count > 0
    assert store.chunk_counts().get(original.document_id or "") is None
