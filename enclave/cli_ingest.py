"""`enclave ingest`: run the pipeline with a progress bar and print a summary."""

from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from enclave.db import Database
from enclave.embedder import Embedder
from enclave.settings import Settings
from enclave.vectorstore import VectorStore
from ingest.pipeline import FileResult, Ingestor, IngestReport, Outcome

SUMMARY_COLUMNS = ("added", "updated", "unchanged", "deleted", "failed", "chunks")


def run_ingest(
    settings: Settings, paths: list[Path], console: Console, show_progress: bool = True
) -> IngestReport:
    database = Database.from_settings(settings)
    store = VectorStore.from_settings(settings)
    try:
        with console.status("Loading the embedding model…", spinner="dots"):
            embedder = Embedder.from_settings(settings)
        ingestor = Ingestor(
            database,
            store,
            embedder,
            max_chunk_tokens=settings.chunk_max_tokens,
            default_groups=settings.default_groups,
        )
        progress = Progress(
            TextColumn("[bold]Ingesting"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("files · {task.fields[chunks]} chunks · {task.fields[current]}"),
            TimeElapsedColumn(),
            console=console,
            disable=not show_progress,
        )
        with progress:
            task = progress.add_task("ingest", total=None, chunks=0, current="")
            chunks = 0

            def discovered(total: int) -> None:
                progress.update(task, total=total)

            def file_done(result: FileResult) -> None:
                nonlocal chunks
                if result.status != Outcome.DELETED:
                    chunks += result.chunks
                    progress.advance(task)
                progress.update(task, chunks=chunks, current=Path(result.path).name[:40])

            report = ingestor.ingest(paths, on_file=file_done, on_discovered=discovered)
    finally:
        store.close()
        database.dispose()
    if show_progress:
        print_summary(report, console)
    return report


def print_summary(report: IngestReport, console: Console) -> None:
    totals = report.totals()
    table = Table(title="Ingest summary")
    for column in SUMMARY_COLUMNS:
        table.add_column(column, justify="right")
    table.add_row(*(str(totals[column]) for column in SUMMARY_COLUMNS))
    console.print(table)
    for result in report.failed:
        console.print(f"[red]failed[/red] {result.path}: {result.error}")
    for missing in report.missing:
        console.print(f"[yellow]not found[/yellow] {missing}")
