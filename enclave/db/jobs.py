"""The job queue in the database: enqueue, claim (one worker per job), heartbeat, record.

Claiming is a compare-and-set (`UPDATE … WHERE id = ? AND <still claimable>`), so two
workers can never both win a job, on SQLite (one writer at a time) and on PostgreSQL, where
candidates are also read with `FOR UPDATE SKIP LOCKED` so workers do not queue up behind
each other's locks. A job whose worker stopped sending heartbeats (killed, crashed) becomes
claimable again and resumes: the files it already recorded are skipped.
"""

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, exists, func, or_, select, update
from sqlalchemy.orm import Session, aliased

from enclave.db.models import Job, JobFile, JobKind, JobStatus, Source, utcnow

FAILED = "failed"  # a file's outcome (ingest.pipeline.Outcome.FAILED)


class SourceConflict(ValueError):
    """Two sources cannot share a folder: their documents are keyed by path."""


class SourceRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def get(self, source_id: str) -> Source | None:
        return self.session.get(Source, source_id)

    def by_name(self, name: str) -> Source | None:
        return self.session.scalar(select(Source).where(Source.name == name))

    def by_root(self, root: str) -> Source | None:
        """The source of a folder: at most one (a unique index since migration 0008)."""
        return self.session.scalar(select(Source).where(Source.root == root))

    def list(self) -> Sequence[Source]:
        return self.session.scalars(select(Source).order_by(Source.name)).all()

    def register(
        self,
        name: str,
        root: str,
        groups: Sequence[str],
        include: str = "**/*",
        exclude: str | None = None,
    ) -> Source:
        """Create the source, or update the existing one of that name. A folder belongs to
        one source: SourceConflict when another source already has `root`."""
        source = self.by_name(name)
        holder = self.by_root(root)
        if holder is not None and holder is not source:
            raise SourceConflict(
                f"{root} is already the folder of source '{holder.name}': use that name"
            )
        if source is None:
            source = Source(name=name, root=root)
            self.session.add(source)
        source.root, source.groups = root, list(groups)
        source.include, source.exclude = include, exclude
        self.session.flush()
        return source


class JobRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def get(self, job_id: str) -> Job | None:
        return self.session.get(Job, job_id)

    def list(self, limit: int = 50, status: JobStatus | None = None) -> Sequence[Job]:
        query = select(Job).order_by(Job.created_at.desc()).limit(limit)
        if status is not None:
            query = query.where(Job.status == status)
        return self.session.scalars(query).all()

    def enqueue(self, source: Source, kind: JobKind, paths: Sequence[str] = ()) -> Job:
        """Queue a job; a sync of a source that already has one waiting is not queued twice."""
        if kind == JobKind.SYNC:
            waiting = self.session.scalar(
                select(Job).where(
                    Job.source_id == source.id,
                    Job.kind == JobKind.SYNC,
                    Job.status == JobStatus.QUEUED,
                )
            )
            if waiting is not None:
                return waiting
        job = Job(source_id=source.id, kind=kind, paths=list(paths), status=JobStatus.QUEUED)
        self.session.add(job)
        self.session.flush()
        return job

    def claim(self, worker: str, stale_after: timedelta, job_id: str | None = None) -> Job | None:
        """Take the oldest claimable job (or `job_id`) for `worker`, or None."""
        now = utcnow()
        claimable = _claimable(now - stale_after)
        candidates = select(Job.id).where(claimable).order_by(Job.created_at).limit(5)
        if job_id is not None:
            candidates = candidates.where(Job.id == job_id)
        if self.session.get_bind().dialect.name == "postgresql":
            candidates = candidates.with_for_update(skip_locked=True)
        for candidate in self.session.scalars(candidates).all():
            won = self.session.execute(
                update(Job)
                .where(Job.id == candidate, claimable)
                .values(
                    status=JobStatus.RUNNING,
                    worker=worker,
                    attempts=Job.attempts + 1,
                    started_at=func.coalesce(Job.started_at, now),
                    heartbeat_at=now,
                )
                .execution_options(synchronize_session=False)
            )
            if won.rowcount == 1:  # type: ignore[attr-defined]
                job = self.session.get(Job, candidate, populate_existing=True)
                return job
        return None

    def heartbeat(self, job_id: str, worker: str) -> bool:
        """Refresh the claim; False when another worker has taken the job over."""
        result = self.session.execute(
            update(Job)
            .where(Job.id == job_id, Job.worker == worker, Job.status == JobStatus.RUNNING)
            .values(heartbeat_at=utcnow())
            .execution_options(synchronize_session=False)
        )
        return result.rowcount == 1  # type: ignore[attr-defined]

    def recorded_paths(self, job_id: str) -> set[str]:
        return set(self.session.scalars(select(JobFile.path).where(JobFile.job_id == job_id)))

    def record_file(
        self,
        job: Job,
        path: str,
        outcome: str,
        chunks: int,
        error: str | None,
        document_id: str | None,
    ) -> None:
        self.session.add(
            JobFile(
                job_id=job.id,
                path=path,
                outcome=outcome,
                chunks=chunks,
                error=error,
                document_id=document_id,
            )
        )
        job.files_done += 1  # (job_id, path) is unique: a file cannot be counted twice
        job.chunks += chunks if outcome != "deleted" else 0
        job.heartbeat_at = utcnow()

    def totals(self, job_id: str) -> dict[str, int]:
        rows = self.session.execute(
            select(JobFile.outcome, func.count(), func.coalesce(func.sum(JobFile.chunks), 0))
            .where(JobFile.job_id == job_id)
            .group_by(JobFile.outcome)
        ).all()
        totals = {outcome: count for outcome, count, _ in rows}
        totals["chunks"] = sum(chunks for outcome, _, chunks in rows if outcome != "deleted")
        return totals

    def finish(self, job: Job, error: str | None = None) -> None:
        """Close the job: `failed` when it stopped on `error` or when every file it recorded
        failed, `completed_with_errors` when some failed and others did not, else
        `succeeded` (a job with nothing to do included)."""
        totals = self.totals(job.id)
        failures = totals.get(FAILED, 0)
        others = sum(n for outcome, n in totals.items() if outcome not in (FAILED, "chunks"))
        if error is None and failures and not others:
            error = "its only file failed" if failures == 1 else f"all {failures} files failed"
        if error:
            job.status = JobStatus.FAILED
        elif failures:
            job.status = JobStatus.COMPLETED_WITH_ERRORS
        else:
            job.status = JobStatus.SUCCEEDED
        job.error = error
        job.finished_at = utcnow()


def _claimable(stale_before: datetime) -> ColumnElement[bool]:
    """Queued jobs whose source has no other job running, and running jobs gone silent."""
    other = aliased(Job)
    busy_source = exists().where(
        other.source_id == Job.source_id,
        other.id != Job.id,
        other.status == JobStatus.RUNNING,
        other.heartbeat_at >= stale_before,
    )
    return or_(
        and_(Job.status == JobStatus.QUEUED, ~busy_source),
        and_(Job.status == JobStatus.RUNNING, Job.heartbeat_at < stale_before),
    )
