"""The job queue and worker: exclusive claims, resumption after a crash (a real SIGKILL),
and `enclave ingest` handing its job to a running `enclave serve`."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select, text, update

from enclave.db import Database, DocumentStatus, Job, JobKind, JobStatus
from enclave.db.documents import DocumentRepository
from enclave.db.jobs import JobRepository, SourceRepository
from enclave.db.migrate import downgrade, upgrade
from enclave.db.models import utcnow
from enclave.embedder import Embedder
from enclave.queue import enqueue_sync, register_source
from enclave.settings import Settings
from enclave.vectorstore import VectorStore, open_store
from ingest.files import Outcome
from ingest.pipeline import Ingestor
from ingest.read_ahead import InlineParser
from ingest.worker import Worker, sync_now
from tests.conftest import SAMPLES
from tests.support.docs_factory import write_corrupt_pdf

STALE = timedelta(seconds=30)


def make_folder(root: Path, files: int) -> Path:
    folder = root / "docs"
    folder.mkdir(parents=True)
    for i in range(files):
        (folder / f"note-{i:03}.md").write_text(
            f"# Note {i}\n\nMeeting note number {i}. "
            f"The budget line {i} was approved by team {i % 7}.\n"
            + " ".join(f"Detail {j} of note {i} is recorded here." for j in range(30))
        )
    return folder


def test_a_job_is_claimed_by_one_worker_only(database: Database, tmp_path: Path) -> None:
    source = register_source(database, tmp_path, groups=["public"])
    job_id = enqueue_sync(database, source)
    assert enqueue_sync(database, source) == job_id  # a waiting sync is not queued twice
    with database.session() as session:
        first = JobRepository(session).claim("worker-a", STALE)
    with database.session() as session:
        second = JobRepository(session).claim("worker-b", STALE)
    assert first is not None and first.id == job_id and first.worker == "worker-a"
    assert second is None
    # While it runs, a new sync of the same source waits for it.
    queued = enqueue_sync(database, source)
    assert queued != job_id
    with database.session() as session:
        assert JobRepository(session).claim("worker-b", STALE) is None


def test_a_silent_job_is_taken_over(database: Database, tmp_path: Path) -> None:
    source = register_source(database, tmp_path, groups=["public"])
    job_id = enqueue_sync(database, source)
    with database.session() as session:
        assert JobRepository(session).claim("dead-worker", STALE) is not None
        session.execute(
            update(Job).where(Job.id == job_id).values(heartbeat_at=utcnow() - 2 * STALE)
        )
    with database.session() as session:
        repository = JobRepository(session)
        taken = repository.claim("new-worker", STALE)
        assert taken is not None and taken.id == job_id and taken.attempts == 2
        assert not repository.heartbeat(job_id, "dead-worker")  # the old owner lost it
        assert repository.heartbeat(job_id, "new-worker")


def test_sync_records_per_file_results_and_source(
    database: Database, store: VectorStore, embedder: Embedder, settings: Settings, tmp_path: Path
) -> None:
    folder = make_folder(tmp_path, 3)
    (folder / "skip.tmp.md").write_text("# Skipped\n\nexcluded by glob")
    ingestor = Ingestor(database, store, embedder, max_chunk_tokens=settings.chunk_max_tokens)
    worker = Worker(database, ingestor)
    source = register_source(
        database, folder, name="notes", groups=["hr", "finance"], exclude="*.tmp.md"
    )
    report = worker.run_once(enqueue_sync(database, source))
    assert report is not None and report.status == JobStatus.SUCCEEDED
    assert report.totals()["added"] == 3 and len(report.files) == 3
    with database.session() as session:
        job = JobRepository(session).get(report.job_id)
        assert job is not None and job.files_total == job.files_done == 3
        assert job.kind == JobKind.SYNC and job.finished_at is not None
        src = SourceRepository(session).by_name("notes")
        assert src is not None and src.last_synced_at is not None
        documents = DocumentRepository(session).of_source(src.id)
        assert len(documents) == 3 and all(d.groups == ["hr", "finance"] for d in documents)
    hit = store.search(embedder.embed_query("budget line 1 approved"), limit=1)[0]
    assert hit.title.startswith("Note") and store.count() == report.totals()["chunks"]


def test_resumed_job_skips_recorded_files(
    database: Database, store: VectorStore, embedder: Embedder, settings: Settings, tmp_path: Path
) -> None:
    folder = make_folder(tmp_path, 4)
    ingestor = Ingestor(database, store, embedder, max_chunk_tokens=settings.chunk_max_tokens)
    source = register_source(database, folder, groups=["public"])
    job_id = enqueue_sync(database, source)
    # A worker that indexed one file and died:
    with database.session() as session:
        repository = JobRepository(session)
        job = repository.claim("dead", STALE)
        assert job is not None
    done = ingestor.ingest_file(folder / "note-000.md")[-1]
    with database.session() as session:
        repository = JobRepository(session)
        job = repository.get(job_id)
        assert job is not None
        repository.record_file(
            job, done.path, done.status.value, done.chunks, None, done.document_id
        )
        job.heartbeat_at = utcnow() - 2 * STALE
    report = Worker(database, ingestor, stale_after=STALE).run_once()
    assert report is not None and report.job_id == job_id
    outcomes = {Path(r.path).name: r.status for r in report.files}
    assert outcomes == {f"note-00{i}.md": Outcome.ADDED for i in range(4)}  # none twice
    assert store.count() == sum(r.chunks for r in report.files)


def _cli(args: list[str], env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "cli.main", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **env},
    )


def test_worker_killed_mid_job_resumes_to_an_exact_index(
    database_url: str, tmp_path: Path, embedder: Embedder
) -> None:
    """SIGKILL a worker in the middle of a sync; a new worker finishes it. The index then
    holds exactly the chunks of the current files: no duplicates, orphans or gaps."""
    folder = make_folder(tmp_path, 40)
    env = {
        "ENCLAVE_DATA_DIR": str(tmp_path / "var"),
        "ENCLAVE_DATABASE_URL": database_url,
        "ENCLAVE_JOB_STALE_SECONDS": "2",
        "ENCLAVE_EMBED_BATCH_CHUNKS": "4",  # files are recorded a few at a time
    }
    upgrade(database_url)
    database = Database(database_url)
    try:
        source = register_source(database, folder, groups=["public"])
        job_id = enqueue_sync(database, source)
        victim = _cli(["worker", "--once"], env)
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            with database.session() as session:
                job = session.get(Job, job_id)
                assert job is not None
                if job.files_done >= 5:
                    break
            assert victim.poll() is None, victim.communicate()
            time.sleep(0.05)
        victim.send_signal(signal.SIGKILL)
        victim.wait()
        with database.session() as session:
            job = session.get(Job, job_id)
            assert job is not None and job.status == JobStatus.RUNNING  # cut off mid-job
            assert 5 <= job.files_done < 40
        time.sleep(2.5)  # its heartbeat goes stale
        survivor = _cli(["worker", "--once"], env)
        _, errors = survivor.communicate(timeout=300)
        assert survivor.returncode == 0, errors
        with database.session() as session:
            job = session.get(Job, job_id)
            assert job is not None and job.status == JobStatus.SUCCEEDED and job.attempts == 2
            assert job.files_done == 40
            documents = DocumentRepository(session).of_source(source.id)
            expected = {d.id: d.chunk_count for d in documents}
            assert len(documents) == 40
            assert all(d.status == DocumentStatus.INDEXED for d in documents)
    finally:
        database.dispose()
    settings = Settings(_env_file=None, data_dir=tmp_path / "var", database_url=database_url)  # type: ignore[call-arg]
    store = open_store(settings)
    try:
        assert store.chunk_counts() == expected
    finally:
        store.close()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_ingest_hands_its_job_to_a_running_service(tmp_path: Path, tiny_gguf: Path) -> None:
    port = _free_port()
    env = {
        "ENCLAVE_DATA_DIR": str(tmp_path / "var"),
        "ENCLAVE_LLM_MODEL_PATH": str(tiny_gguf),
        "ENCLAVE_LLM_CONTEXT_SIZE": "2048",
        "ENCLAVE_PORT": str(port),
        "ENCLAVE_AUTH": "off",  # loopback demo mode: this test is about the hand-off
    }
    server = _cli(["serve"], env)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/readyz").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert server.poll() is None, server.communicate()
            time.sleep(0.3)
        ingest = _cli(["ingest", str(SAMPLES), "--json"], env)
        out, err = ingest.communicate(timeout=300)
        assert ingest.returncode == 0, err
        assert "already accessed" not in err and "Enclave is running" in err
        summary = json.loads(out)
        assert summary["totals"]["added"] == 5 and summary["status"] == "succeeded"
        found = httpx.get(f"http://127.0.0.1:{port}/api/search", params={"q": "parental leave"})
        assert found.json()["results"][0]["title"].endswith("Employee Handbook")
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(timeout=30)


@pytest.mark.parametrize("include", ["**/*.md", "*.md"])
def test_include_glob_matches_top_level_files(
    database: Database, store: VectorStore, embedder: Embedder, tmp_path: Path, include: str
) -> None:
    folder = make_folder(tmp_path, 2)
    (folder / "other.txt").write_text("a text file that the glob leaves out")
    worker = Worker(database, Ingestor(database, store, embedder, max_chunk_tokens=256))
    source = register_source(database, folder, groups=["public"], include=include)
    report = worker.run_once(enqueue_sync(database, source))
    assert report is not None
    assert sorted(Path(r.path).name for r in report.files) == ["note-000.md", "note-001.md"]
    assert sync_now  # the CLI path is covered in test_cli.py


def test_two_workers_share_the_queue_without_doing_a_file_twice(
    database: Database, store: VectorStore, embedder: Embedder, tmp_path: Path
) -> None:
    """Several workers may run at once: each job (and so each file) is done by one of them."""
    import threading

    ingestor = Ingestor(database, store, embedder, max_chunk_tokens=256)
    job_ids = []
    for n in range(4):
        folder = make_folder(tmp_path / f"team-{n}", 3)
        source = register_source(database, folder, name=f"team-{n}", groups=["public"])
        job_ids.append(enqueue_sync(database, source))
    workers = [Worker(database, ingestor, name=f"w{i}") for i in range(2)]
    ran: dict[str, list[str]] = {w.name: [] for w in workers}

    def drain(worker: Worker) -> None:
        while (report := worker.run_once()) is not None:
            ran[worker.name].append(report.job_id)

    threads = [threading.Thread(target=drain, args=(w,)) for w in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    done = ran["w0"] + ran["w1"]
    assert sorted(done) == sorted(job_ids)  # every job once, none twice
    with database.session() as session:
        for job_id in job_ids:
            job = session.get(Job, job_id)
            assert job is not None and job.status == JobStatus.SUCCEEDED and job.attempts == 1
            assert JobRepository(session).totals(job_id)["added"] == 3
    with database.session() as session:
        documents = DocumentRepository(session).page(limit=100)
    # The four folders hold the same three notes, listed twelve times. Two workers indexing
    # the same new content at the same moment may each store it (dedup is best effort
    # across concurrent workers); the index stays exact either way.
    assert len(documents) == 12 and sum(d.duplicate_of is not None for d in documents) >= 6
    assert store.chunk_counts() == {d.id: d.chunk_count for d in documents if d.chunk_count}


def test_an_unlistable_folder_does_not_delete_its_documents(
    database: Database,
    store: VectorStore,
    embedder: Embedder,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A share that is briefly unreadable must not wipe its documents from the index. As root
    no permission stops a listing, so the walk's result is what the test substitutes."""
    import ingest.sources
    from ingest.discovery import Discovery, discover

    folder = make_folder(tmp_path, 2)
    (folder / "team").mkdir()
    (folder / "team" / "plan.md").write_text("# Plan\n\nThe migration plan starts in June.")
    worker = Worker(database, Ingestor(database, store, embedder, max_chunk_tokens=256))
    first = sync_now(worker, folder)
    assert first.totals()["added"] == 3

    def listing_without_team(paths: list[Path]) -> Discovery:
        found = discover(paths)
        found.files = [p for p in found.files if "team" not in p.parts]
        found.unreadable.append((folder.resolve() / "team", "Permission denied"))
        return found

    monkeypatch.setattr(ingest.sources, "discover", listing_without_team)
    second = sync_now(worker, folder)
    outcomes = {Path(r.path).name: (r.status, r.error) for r in second.files}
    assert outcomes["team"] == (Outcome.FAILED, "cannot list folder: Permission denied")
    assert Outcome.DELETED not in {status for status, _ in outcomes.values()}
    hit = store.search(embedder.embed_query("when does the migration plan start"), limit=1)[0]
    assert "June" in hit.text


class GatedParser(InlineParser):
    """Parses the first file, then holds the others back until a file of the job has been
    recorded (or `patience` seconds have passed), noting which came first."""

    def __init__(self, database: Database, patience: float) -> None:
        super().__init__()
        self.database = database
        self.patience = patience
        self.recorded_while_parsing: bool | None = None

    def map_unordered(self, paths: Iterable[Path], *, ahead: int | None = None) -> Iterator[Any]:
        for number, result in enumerate(super().map_unordered(paths, ahead=ahead)):
            if number == 1:
                deadline = time.monotonic() + self.patience
                while time.monotonic() < deadline and not self._recorded():
                    time.sleep(0.05)
                self.recorded_while_parsing = self._recorded()
            yield result

    def _recorded(self) -> bool:
        with self.database.session() as session:
            return any(job.files_done for job in session.scalars(select(Job)))


def test_the_first_files_are_embedded_while_the_next_ones_parse(
    database: Database, store: VectorStore, embedder: Embedder, tmp_path: Path
) -> None:
    """The worker does not wait for a full `embed_batch_chunks` batch (or for every file to
    be parsed) before embedding: with the parser holding the other files back, the first
    file is embedded and recorded all the same."""
    folder = make_folder(tmp_path, 3)
    # The largest file is parsed first; it has more chunks than one model batch (4).
    (folder / "big.md").write_text(
        "# Big\n\n" + " ".join(f"Sentence {j} about the budget." for j in range(400))
    )
    small_batches = Embedder(embedder.model, batch_size=4, backend=embedder.backend)
    ingestor = Ingestor(database, store, small_batches, max_chunk_tokens=64)
    parser = GatedParser(database, patience=30)
    worker = Worker(database, ingestor, parser=parser, embed_batch_chunks=10_000)
    report = sync_now(worker, folder)
    assert parser.recorded_while_parsing is True
    assert report.totals()["added"] == 4 and report.totals()["failed"] == 0
    assert store.count() == report.totals()["chunks"]


# --- a job's status says whether its files went through --------------------------------------


def test_a_job_reports_failed_or_completed_with_errors_when_files_fail(
    database: Database, store: VectorStore, embedder: Embedder, settings: Settings, tmp_path: Path
) -> None:
    """A job whose every file failed is `failed`, with a reason; one with some failed files
    and others indexed is `completed_with_errors`; the API, the CLI and the pages say so."""
    from io import StringIO

    from rich.console import Console

    from app.schemas import JobOut
    from cli.ingest import FINISHED, merged_json, print_jobs

    alone, both, mixed = (tmp_path / name for name in ("alone", "both", "mixed"))
    write_corrupt_pdf(alone / "broken.pdf")
    write_corrupt_pdf(both / "broken.pdf")
    (both / "truncated.pdf").write_bytes(b"%PDF-1.7\n1 0 obj <<< truncated, not a PDF\n")
    write_corrupt_pdf(mixed / "broken.pdf")
    make_folder(mixed, 1)
    worker = Worker(database, Ingestor.from_settings(settings, database, store, embedder))
    reports = {}
    for folder in (alone, both, mixed):
        source = register_source(database, folder, groups=["public"])
        report = worker.run_once(enqueue_sync(database, source))
        assert report is not None
        reports[folder.name] = report

    alone_report = reports["alone"]
    assert alone_report.status == JobStatus.FAILED, alone_report.as_json()
    assert alone_report.error == "its only file failed"
    assert [Path(r.path).name for r in alone_report.failed] == ["broken.pdf"]
    assert alone_report.failed[0].error  # the parser's reason, per file
    assert reports["both"].status == JobStatus.FAILED
    assert reports["both"].error == "all 2 files failed", reports["both"].as_json()

    partly = reports["mixed"]
    assert partly.status == JobStatus.COMPLETED_WITH_ERRORS, partly.as_json()
    assert partly.error is None
    assert partly.totals()["added"] == 1 and partly.totals()["failed"] == 1
    assert store.count() == partly.totals()["chunks"] > 0  # the good file is searchable

    with database.session() as session:
        job = JobRepository(session).get(partly.job_id)
        assert job is not None and job.finished_at is not None and job.status.finished
        assert JobOut.from_model(job, None, None).status == "completed_with_errors"
        synced = SourceRepository(session).get(job.source_id)
        assert synced is not None and synced.last_synced_at is not None  # it did sync
    # `enclave ingest --json` and `enclave jobs`; a waiting `enclave ingest` stops waiting.
    assert merged_json([partly])["status"] == "completed_with_errors"
    assert merged_json([partly, alone_report])["status"] == "failed"
    assert JobStatus.COMPLETED_WITH_ERRORS in FINISHED and JobStatus.RUNNING not in FINISHED
    out = StringIO()
    print_jobs(settings, Console(file=out, width=250), 10)
    listed = out.getvalue()
    assert partly.job_id in listed and "completed_with_errors" in listed
    assert "its only file failed" in listed


def test_job_status_names_agree_everywhere() -> None:
    """The API schema lists the statuses the database holds."""
    from typing import get_args

    from app.schemas import JobStatusName

    literal = get_args(JobStatusName)[0]
    assert set(get_args(literal)) == {status.value for status in JobStatus}


def test_migration_adds_the_status_and_downgrade_maps_it_back(database_url: str) -> None:
    upgrade(database_url)
    database = Database(database_url)
    try:
        source = register_source(database, Path("/srv/docs"), groups=["public"])
        job_id = enqueue_sync(database, source)
        completed = (
            update(Job).where(Job.id == job_id).values(status=JobStatus.COMPLETED_WITH_ERRORS)
        )
        with database.session() as session:
            session.execute(completed)
        downgrade(database_url, "0008")
        with database.engine.connect() as connection:
            status = connection.execute(
                text("SELECT status FROM jobs WHERE id = :id"), {"id": job_id}
            ).scalar_one()
        assert status == "succeeded"  # what such a job was called before
        upgrade(database_url)
        with database.session() as session:
            session.execute(completed)
        with database.session() as session:
            job = session.get(Job, job_id)
            assert job is not None and job.status == JobStatus.COMPLETED_WITH_ERRORS
    finally:
        database.dispose()
