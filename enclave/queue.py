"""Sources and the job queue as the service and the command line use them: register a
folder as a source, queue a sync, an upload or a re-index. The worker that claims and runs
the jobs is ingest/worker.py; the repositories underneath are enclave/db/jobs.py."""

from pathlib import Path

from enclave.db import Database, JobKind, Source
from enclave.db.jobs import JobRepository, SourceRepository


def register_source(
    database: Database,
    root: Path,
    *,
    name: str | None = None,
    groups: list[str],
    include: str = "**/*",
    exclude: str | None = None,
) -> Source:
    with database.session() as session:
        sources = SourceRepository(session)
        if name is None:  # an unnamed folder keeps the name it was registered under
            known = sources.by_root(str(root))
            name = known.name if known else str(root)
        return sources.register(name, str(root), groups, include=include, exclude=exclude)


def enqueue_sync(database: Database, source: Source) -> str:
    with database.session() as session:
        return JobRepository(session).enqueue(source, JobKind.SYNC).id


def enqueue_upload(database: Database, source: Source, paths: list[Path]) -> str:
    with database.session() as session:
        return JobRepository(session).enqueue(source, JobKind.UPLOAD, [str(p) for p in paths]).id


def enqueue_reindex(database: Database, source: Source, paths: list[Path] | None = None) -> str:
    """Index `paths` (default: the whole source) again, even where nothing changed."""
    with database.session() as session:
        job = JobRepository(session).enqueue(source, JobKind.REINDEX, [str(p) for p in paths or []])
        return job.id
