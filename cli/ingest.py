"""`enclave ingest`, `enclave worker`, `enclave jobs`: run ingestion from the terminal.

`enclave ingest` registers each path as a source and queues a sync job. If the embedded
index is free it runs the jobs itself; if `enclave serve` holds it, the service's worker
runs them and this command follows their progress (`--wait`) or returns at once.
"""

import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from enclave.db import Database, Job, JobStatus
from enclave.db.jobs import JobRepository, SourceConflict
from enclave.embedder import Embedder
from enclave.queue import enqueue_reindex, enqueue_sync, register_source
from enclave.settings import Settings
from enclave.vectorstore import StoreInUse, open_store
from ingest.files import FileResult, Outcome
from ingest.pipeline import Ingestor
from ingest.worker import JobReport, Worker, load_report, open_parse_pool

SUMMARY_COLUMNS = ("added", "updated", "unchanged", "deleted", "failed", "chunks")
FINISHED = tuple(status for status in JobStatus if status.finished)
STATUS_CAPTION = (
    "status: queued, running, succeeded, completed_with_errors (some files failed), "
    "failed (the job stopped, or every file failed)"
)


@contextmanager
def open_worker(settings: Settings, database: Database, console: Console) -> Iterator[Worker]:
    """A worker over the configured store; raises StoreInUse when the service holds it."""
    store = open_store(settings)
    try:
        # The pool starts its fork server (seconds of parser imports) while the model loads.
        with open_parse_pool(settings, warm=True) as parser:
            with console.status("Loading the embedding model…", spinner="dots"):
                embedder = Embedder.from_settings(settings)
            ingestor = Ingestor.from_settings(settings, database, store, embedder)
            yield Worker(
                database,
                ingestor,
                stale_after=timedelta(seconds=settings.job_stale_seconds),
                parser=parser,
                embed_batch_chunks=settings.embed_batch_chunks,
            )
    finally:
        store.close()


def _progress(console: Console, show: bool) -> Progress:
    return Progress(
        TextColumn("[bold]Ingesting"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("files · {task.fields[chunks]} chunks · {task.fields[current]}"),
        TimeElapsedColumn(),
        console=console,
        disable=not show,
    )


def run_ingest(
    settings: Settings,
    paths: list[Path],
    console: Console,
    *,
    source_name: str | None = None,
    groups: list[str] | None = None,
    include: str = "**/*",
    exclude: str | None = None,
    reindex: bool = False,
    wait: bool = True,
    show_progress: bool = True,
) -> list[JobReport] | list[str]:
    """Queue a sync (`reindex`: a forced re-index) per path and run or follow it. Returns
    reports, or the job ids when the jobs were handed to a running service and `wait` is
    False."""
    database = Database.from_settings(settings)
    try:
        job_ids = []
        for path in paths:
            try:
                source = register_source(
                    database,
                    path.expanduser().resolve(),
                    name=source_name,
                    groups=groups or settings.default_groups,
                    include=include,
                    exclude=exclude,
                )
            except SourceConflict as conflict:
                raise click.ClickException(str(conflict)) from None
            queue = enqueue_reindex if reindex else enqueue_sync
            job_ids.append(queue(database, source))
        try:
            with open_worker(settings, database, console) as worker:
                return [_run_here(worker, job_id, console, show_progress) for job_id in job_ids]
        except StoreInUse:
            console.print(
                f"Enclave is running: its worker takes the {len(job_ids)} queued job(s) "
                f"({', '.join(job_ids)})."
            )
            if not wait:
                return job_ids
            return [_follow(database, job_id, console, show_progress) for job_id in job_ids]
    finally:
        database.dispose()


def _run_here(worker: Worker, job_id: str, console: Console, show: bool) -> JobReport:
    with _progress(console, show) as progress:
        task = progress.add_task("ingest", total=None, chunks=0, current="")

        def advance(job: Job, result: FileResult | None) -> None:
            name = Path(result.path).name[:40] if result else ""
            progress.update(
                task,
                total=job.files_total,
                completed=job.files_done,
                chunks=job.chunks,
                current=name,
            )

        report = worker.run_once(job_id, advance)
    if report is None:  # another worker (a service started meanwhile) has it: follow it
        return _follow(worker.database, job_id, console, show)
    return report


def _follow(database: Database, job_id: str, console: Console, show: bool) -> JobReport:
    with _progress(console, show) as progress:
        task = progress.add_task("ingest", total=None, chunks=0, current="queued")
        while True:
            with database.session() as session:
                job = JobRepository(session).get(job_id)
                if job is None:
                    raise LookupError(f"job {job_id} has disappeared")
                status, total, done, chunks = (
                    job.status,
                    job.files_total,
                    job.files_done,
                    job.chunks,
                )
            progress.update(task, total=total, completed=done, chunks=chunks, current=status.value)
            if status in FINISHED:
                break
            time.sleep(0.5)
    return load_report(database, job_id)


def run_worker(settings: Settings, console: Console, once: bool) -> None:
    """Run queued jobs: until none is left (`once`), or until interrupted."""
    database = Database.from_settings(settings)
    try:
        with open_worker(settings, database, console) as worker:
            if once:
                while (report := worker.run_once()) is not None:
                    console.print(f"job {report.job_id}: {report.status.value} {report.totals()}")
                return
            console.print(f"worker {worker.name} waiting for jobs (Ctrl-C to stop)")
            stop = threading.Event()
            try:
                worker.run_forever(stop)
            except KeyboardInterrupt:
                stop.set()
    finally:
        database.dispose()


def print_jobs(settings: Settings, console: Console, limit: int) -> None:
    database = Database.from_settings(settings)
    try:
        with database.session() as session:
            repository = JobRepository(session)
            table = Table(
                "job", "kind", "status", "files", "chunks", "failed", "created", "error",
                caption=STATUS_CAPTION,
            )  # fmt: skip
            for job in repository.list(limit=limit):
                failed = repository.totals(job.id).get(Outcome.FAILED.value, 0)
                table.add_row(
                    job.id,
                    job.kind.value,
                    job.status.value,
                    f"{job.files_done}/{job.files_total if job.files_total is not None else '?'}",
                    str(job.chunks),
                    str(failed),
                    job.created_at.strftime("%Y-%m-%d %H:%M:%S"),
                    (job.error or "")[:60],
                )
        console.print(table)
    finally:
        database.dispose()


def merged_json(reports: list[JobReport]) -> dict[str, object]:
    """One summary for the batch: `job_id` is the first job's (the only one for one path)."""
    files = [f for report in reports for f in report.as_json()["files"]]  # type: ignore[attr-defined]
    return {
        "job_id": reports[0].job_id if reports else None,
        "job_ids": [r.job_id for r in reports],
        "status": merged_status(reports).value,
        "files": files,
        "totals": merged_totals(reports),
    }


def merged_status(reports: list[JobReport]) -> JobStatus:
    """The batch's status: `failed` if a job failed, `completed_with_errors` if one had
    failed files, else `succeeded`."""
    statuses = {r.status for r in reports}
    for status in (JobStatus.FAILED, JobStatus.COMPLETED_WITH_ERRORS):
        if status in statuses:
            return status
    return JobStatus.SUCCEEDED


def merged_totals(reports: list[JobReport]) -> dict[str, int]:
    totals: Counter[str] = Counter({column: 0 for column in SUMMARY_COLUMNS})
    for report in reports:
        totals.update(report.totals())
    return dict(totals)


def print_summary(reports: list[JobReport], console: Console) -> None:
    table = Table(title="Ingest summary")
    for column in SUMMARY_COLUMNS:
        table.add_column(column, justify="right")
    totals = merged_totals(reports)
    table.add_row(*(str(totals.get(column, 0)) for column in SUMMARY_COLUMNS))
    console.print(table)
    for report in reports:
        if report.error:
            console.print(f"[red]job {report.job_id} failed:[/red] {report.error}")
        for result in report.failed:
            console.print(f"[red]failed[/red] {result.path}: {result.error}")
