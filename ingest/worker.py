"""Run ingestion jobs from the database queue.

A worker claims a job, lists its files (a SYNC job walks the source; an UPLOAD job has its
files listed), indexes each file it has not recorded yet, and — for a SYNC — removes the
source's documents whose files have gone. A heartbeat thread keeps the claim alive; a job
whose worker dies is claimed again after `stale_after` and resumes where it stopped.
Because point ids are deterministic and a file's row is updated only after its points are
written, redoing a half-indexed file leaves exactly its current chunks.

The queue itself (register, enqueue) is enclave/queue.py; parsing ahead of the embedder,
in processes or in this one, is ingest/read_ahead.py and ingest/parse_pool.py.
"""

import logging
import os
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from sqlalchemy import select

from enclave.db import Database, Job, JobFile, JobKind, JobStatus, Source
from enclave.db.jobs import JobRepository
from enclave.db.models import utcnow
from enclave.queue import enqueue_sync, register_source
from enclave.settings import Settings
from ingest.files import FileResult, Outcome, Pending, Prepared
from ingest.parse_pool import ParsePool, ParseResult
from ingest.pipeline import Ingestor
from ingest.read_ahead import InlineParser, Parser, ReadAhead
from ingest.sources import SourceListing, source_files

log = logging.getLogger(__name__)


@dataclass
class JobReport:
    """A finished (or failed) job: what happened to each file, and the totals."""

    job_id: str
    status: JobStatus
    files: list[FileResult] = field(default_factory=list)
    error: str | None = None

    def totals(self) -> dict[str, int]:
        totals = {outcome.value: 0 for outcome in Outcome}
        for result in self.files:
            totals[result.status.value] += 1
        totals["chunks"] = sum(r.chunks for r in self.files if r.status != Outcome.DELETED)
        return totals

    @property
    def failed(self) -> list[FileResult]:
        return [r for r in self.files if r.status == Outcome.FAILED]

    def as_json(self) -> dict[str, object]:
        return {
            "job_id": self.job_id,
            "status": self.status.value,
            "error": self.error,
            "files": [
                {"path": r.path, "status": r.status.value, "chunks": r.chunks, "error": r.error}
                for r in self.files
            ],
            "totals": self.totals(),
        }


def load_report(database: Database, job_id: str) -> JobReport:
    with database.session() as session:
        job = session.get(Job, job_id)
        if job is None:
            raise KeyError(job_id)
        rows = session.scalars(
            select(JobFile).where(JobFile.job_id == job_id).order_by(JobFile.id)
        ).all()
        files = [
            FileResult(r.path, Outcome(r.outcome), r.chunks, r.error, r.document_id) for r in rows
        ]
        return JobReport(job.id, job.status, files, job.error)


ProgressCallback = Callable[[Job, FileResult | None], None]


def default_worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"


class Worker:
    def __init__(
        self,
        database: Database,
        ingestor: Ingestor,
        *,
        name: str | None = None,
        stale_after: timedelta = timedelta(seconds=60),
        heartbeat_every: float = 5.0,
        parser: Parser | None = None,
        embed_batch_chunks: int = 256,
    ) -> None:
        self.database = database
        self.ingestor = ingestor
        self.parser: Parser = parser or InlineParser(ingestor.max_file_bytes)
        # At most this many chunks, of several files, go into one embedding call (fewer when
        # the parser has nothing more ready); files are recorded (and progress moves) once
        # their batch is written.
        self.embed_batch_chunks = embed_batch_chunks
        self.name = name or default_worker_name()
        self._recording = threading.Lock()
        self.stale_after = stale_after
        self.heartbeat_every = heartbeat_every

    def run_once(
        self, job_id: str | None = None, on_progress: ProgressCallback | None = None
    ) -> JobReport | None:
        """Claim one job (the given one, or the oldest) and run it; None if none was free."""
        with self.database.session() as session:
            job = JobRepository(session).claim(self.name, self.stale_after, job_id)
            claimed = job.id if job else None
        if claimed is None:
            return None
        return self.run(claimed, on_progress)

    def run_forever(self, stop: threading.Event, poll_seconds: float = 1.0) -> None:
        while not stop.is_set():
            try:
                if self.run_once() is None:
                    stop.wait(poll_seconds)
            except Exception:  # keep the worker alive; the job records its own error
                log.exception("ingestion worker iteration failed")
                stop.wait(poll_seconds)

    def run(self, job_id: str, on_progress: ProgressCallback | None = None) -> JobReport:
        """Run a job this worker has claimed."""
        with self._heartbeat(job_id):
            try:
                self._process(job_id, on_progress)
                error = None
            except Exception as failure:
                log.exception("job %s failed", job_id)
                error = f"{type(failure).__name__}: {failure}"
            with self.database.session() as session:
                job = session.get(Job, job_id)
                if job is not None and job.worker == self.name:
                    JobRepository(session).finish(job, error)
                    if error is None and not job.paths and job.kind != JobKind.UPLOAD:
                        source = session.get(Source, job.source_id)
                        if source is not None:
                            source.last_synced_at = utcnow()
        return load_report(self.database, job_id)

    def _process(self, job_id: str, on_progress: ProgressCallback | None) -> None:
        with self.database.session() as session:
            job = session.get(Job, job_id)
            source = session.get(Source, job.source_id) if job else None
            if job is None or source is None:
                raise LookupError(f"job {job_id} or its source no longer exists")
            files = [Path(p) for p in job.paths] if job.paths else None
            force = job.kind == JobKind.REINDEX
            whole_source = files is None
            done = JobRepository(session).recorded_paths(job_id)
        unreadable = SourceListing([])
        if files is None:
            unreadable = source_files(source)
            files = unreadable.files
            for folder, reason in unreadable.unreadable:
                failure = FileResult(
                    str(folder), Outcome.FAILED, 0, f"cannot list folder: {reason}"
                )
                if failure.path not in done:
                    self._record(job_id, failure, on_progress)
        self._update(job_id, files_total=len(files))
        copies: list[Path] = []  # same new content as a file ahead of them in this job
        digests: set[str] = set()

        def changed(pending: dict[Path, Pending]) -> Iterator[Path]:
            """Checked lazily, as the parser takes files: parsing starts with the first
            changed file instead of after hashing the whole folder. Largest first: a long
            parse then overlaps the embedding of the smaller files, instead of being the
            last thing left to wait for."""
            for path in sorted(files, key=_size, reverse=True):
                if str(path) in done:
                    continue
                checked = self.ingestor.check(path, source, force=force)
                if not isinstance(checked, Pending):
                    self._record(job_id, checked, on_progress)
                elif checked.digest in digests:
                    copies.append(path)
                else:
                    digests.add(checked.digest)
                    pending[path] = checked
                    yield path

        self._parse_and_index(job_id, changed, source, on_progress)

        # Checked again now that their original is indexed: recorded as duplicates (or
        # indexed after all, if the original failed).
        def again(pending: dict[Path, Pending]) -> Iterator[Path]:
            for path in copies:
                checked = self.ingestor.check(path, source)
                if isinstance(checked, Pending):
                    pending[path] = checked
                    yield path
                else:
                    self._record(job_id, checked, on_progress)

        self._parse_and_index(job_id, again, source, on_progress)
        if whole_source:
            # A document under a folder that could not be listed is kept, not deleted.
            present = {str(p) for p in files}
            present |= self.ingestor.documents_under(source, unreadable.may_have)
            for result in self.ingestor.remove_vanished(source, present):
                if result.path not in done:
                    self._record(job_id, result, on_progress)

    def _parse_and_index(
        self,
        job_id: str,
        changed: Callable[[dict[Path, Pending]], Iterator[Path]],
        source: Source,
        on_progress: ProgressCallback | None,
    ) -> None:
        """Parse the files `changed` yields (it fills in their Pending) while the ones already
        parsed are chunked, embedded and written here.

        The parser runs ahead in a thread of its own (with the ParsePool, in its processes;
        the thread only waits for them). The chunks of the files parsed so far are embedded
        together once they fill one model batch and the parser has nothing more ready, or
        once `embed_batch_chunks` are gathered, or at the end: the embedder does not wait for
        a large batch while files are still being parsed, nor is it called for a few chunks
        at a time (small calls cost more per chunk)."""
        least = min(self.ingestor.embedder.batch_size, self.embed_batch_chunks)
        pending: dict[Path, Pending] = {}
        batch: list[Prepared] = []
        size = 0
        with ReadAhead(self.parser.map_unordered, changed(pending)) as parsed_files:
            while True:
                parsed = parsed_files.next(wait=size < least)
                if isinstance(parsed, ParseResult):
                    item = pending.pop(parsed.path)
                    try:
                        prepared = self.ingestor.prepare(item, parsed.outcome)
                    except Exception as error:
                        self._record(job_id, _internal_failure(item, error), on_progress)
                        continue
                    batch.append(prepared)
                    size += len(prepared.texts)
                    if size < self.embed_batch_chunks:
                        continue
                # A full batch, nothing more parsed yet (embed what there is while the
                # parser works on), or the end.
                self._embed_and_write(job_id, batch, source, on_progress)
                batch, size = [], 0
                if parsed is None:
                    return

    def _embed_and_write(
        self,
        job_id: str,
        batch: list[Prepared],
        source: Source,
        on_progress: ProgressCallback | None,
    ) -> None:
        if not batch:
            return
        texts = [text for prepared in batch for text in prepared.texts]
        vectors = self.ingestor.embedder.embed_documents(texts)
        offset = 0
        for prepared in batch:
            own = vectors[offset : offset + len(prepared.texts)]
            offset += len(prepared.texts)
            try:
                results = self.ingestor.write(prepared, own, source)
            except Exception as error:  # one file's failure, whatever its cause, is its own
                results = [_internal_failure(prepared.pending, error)]
            for result in results:
                self._record(job_id, result, on_progress)

    def _record(
        self, job_id: str, result: FileResult, on_progress: ProgressCallback | None
    ) -> None:
        # Files are recorded from the read-ahead thread too (unchanged ones, as they are
        # checked): the job's counters are read, added to and written back, one at a time.
        with self._recording, self.database.session() as session:
            repository = JobRepository(session)
            job = repository.get(job_id)
            if job is None or job.worker != self.name:
                raise RuntimeError(f"job {job_id} was taken over by another worker")
            repository.record_file(
                job, result.path, result.status.value, result.chunks, result.error,
                result.document_id,
            )  # fmt: skip
            if on_progress:
                on_progress(job, result)

    def _update(self, job_id: str, **values: object) -> None:
        with self.database.session() as session:
            job = session.get(Job, job_id)
            if job is not None:
                for name, value in values.items():
                    setattr(job, name, value)

    @contextmanager
    def _heartbeat(self, job_id: str) -> Iterator[None]:
        """Refresh the claim in the background, so a long file does not look like a crash."""
        stop = threading.Event()

        def beat() -> None:
            while not stop.wait(self.heartbeat_every):
                try:
                    with self.database.session() as session:
                        JobRepository(session).heartbeat(job_id, self.name)
                except Exception:
                    log.warning("heartbeat for job %s failed", job_id, exc_info=True)

        thread = threading.Thread(target=beat, name=f"heartbeat-{job_id[:8]}", daemon=True)
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join()


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:  # check() records why
        return 0


def _internal_failure(pending: Pending, error: Exception) -> FileResult:
    log.exception("indexing %s failed", pending.state.path, exc_info=error)
    reason = f"internal error: {type(error).__name__}: {error}"[:500]
    return FileResult(str(pending.state.path), Outcome.FAILED, 0, reason)


def open_parse_pool(settings: Settings, *, warm: bool = False) -> ParsePool:
    """The parse pool for `settings`. `warm`: start its first worker now, in the background
    (the fork server's start-up, seconds, then overlaps whatever the caller does next, such
    as loading the embedder) rather than when the first file comes."""
    pool = ParsePool(
        settings.parse_workers,
        timeout=settings.parse_timeout_seconds,
        max_bytes=int(settings.max_file_mb * 1024 * 1024),
    )
    if warm:
        pool.warm_up()
    return pool


def sync_now(
    worker: Worker,
    root: Path,
    *,
    groups: list[str] | None = None,
    name: str | None = None,
    on_progress: ProgressCallback | None = None,
) -> JobReport:
    """Register `root` as a source, queue a sync and run it in this process."""
    source = register_source(
        worker.database,
        root.expanduser().resolve(),
        name=name,
        groups=groups or worker.ingestor.default_groups,
    )
    job_id = enqueue_sync(worker.database, source)
    report = worker.run_once(job_id, on_progress)
    if report is None:
        raise RuntimeError(f"job {job_id} is being run by another worker")
    return report
