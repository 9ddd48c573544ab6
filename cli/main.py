"""The `enclave` command: ingest documents, serve the API and page, search and ask."""

import asyncio
import json
import sys
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

import enclave  # noqa: F401  (offline switches first)
from cli.audit import audit_command
from cli.doctor import doctor_command
from cli.eval import eval_command
from cli.keys import keys_command
from cli.users import users_command
from enclave.settings import ConfigurationError, Settings

console = Console(stderr=True)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.pass_context
def main(ctx: click.Context) -> None:
    """Enclave: a private knowledge base. Documents are parsed, embedded and answered from
    on this machine; nothing is sent anywhere.

    Configuration comes from ENCLAVE_* environment variables or a .env file
    (see README.md). Typical first run:

      enclave ingest samples/ && enclave serve
    """
    try:
        ctx.obj = Settings()
    except Exception as error:  # pydantic ValidationError: show which variable is wrong
        raise click.ClickException(f"Invalid configuration:\n{error}") from error


def _fail(error: Exception) -> None:
    console.print(f"[red]error:[/red] {error}")
    sys.exit(2)


def _migrate(settings: Settings) -> None:
    if settings.auto_migrate:
        from enclave.db.migrate import upgrade

        upgrade(settings.database_url)


@main.group()
def db() -> None:
    """Manage the metadata database."""


@db.command("upgrade")
@click.option("--revision", default="head", show_default=True, help="Target revision.")
@click.pass_obj
def db_upgrade(settings: Settings, revision: str) -> None:
    """Create or update the database tables (Alembic migrations)."""
    from enclave.db.migrate import upgrade

    upgrade(settings.database_url, revision)
    console.print(f"database at revision {revision}: {settings.database_url}")


@main.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--source", "source_name", help="Name of the source (default: its path).")
@click.option(
    "--groups",
    help="Access groups of its documents, comma-separated (a folder's .enclave-acl file "
    "overrides them for the files below it).",
)
@click.option(
    "--reindex",
    is_flag=True,
    help="Index every file again, even unchanged ones (after changing the embedder).",
)
@click.option("--include", default="**/*", show_default=True, help="Glob(s) of files to take.")
@click.option("--exclude", default=None, help="Glob(s) of files to skip, comma-separated.")
@click.option("--wait/--no-wait", default=True, show_default=True, help="Wait for the jobs.")
@click.option("--json", "as_json", is_flag=True, help="Print a machine-readable summary.")
@click.option(
    "--fail-on-error/--no-fail-on-error",
    default=True,
    show_default=True,
    help="Exit with status 1 when a file failed.",
)
@click.pass_obj
def ingest(
    settings: Settings,
    paths: tuple[Path, ...],
    source_name: str | None,
    groups: str | None,
    include: str,
    exclude: str | None,
    reindex: bool,
    wait: bool,
    as_json: bool,
    fail_on_error: bool,
) -> None:
    """Keep the documents in PATHS (folders or files) indexed.

    Each path becomes a source and gets a sync job: new files are added, changed ones
    re-indexed, unchanged ones skipped, and files gone from the folder removed. A file
    that cannot be read is reported with its reason while the rest go on.

    If `enclave serve` is running on the same data directory, its worker runs the job.
    """
    from cli.ingest import merged_json, print_summary, run_ingest
    from enclave.groups import check_group_names

    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        _fail(ConfigurationError(f"No such file or folder: {', '.join(missing)}"))
    if source_name and len(paths) > 1:
        raise click.UsageError("--source names one source: give a single PATH with it.")
    try:
        group_names = check_group_names(groups.split(",")) if groups else None
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="--groups") from None
    try:
        _migrate(settings)
        outcome = run_ingest(
            settings,
            list(paths),
            console,
            source_name=source_name,
            groups=group_names or None,
            include=include,
            exclude=exclude,
            reindex=reindex,
            wait=wait,
            show_progress=not as_json,
        )
    except ConfigurationError as error:
        _fail(error)
        return
    if outcome and isinstance(outcome[0], str):  # handed to the service, not waited for
        click.echo(json.dumps({"job_ids": outcome, "status": "queued"}) if as_json else "queued")
        return
    reports = [r for r in outcome if not isinstance(r, str)]
    if as_json:
        click.echo(json.dumps(merged_json(reports), indent=2))
    else:
        print_summary(reports, console)
    failed = any(r.failed or r.error for r in reports)
    sys.exit(1 if failed and fail_on_error else 0)


@main.command()
@click.option("--once", is_flag=True, help="Run the queued jobs, then exit.")
@click.pass_obj
def worker(settings: Settings, once: bool) -> None:
    """Run ingestion jobs from the queue (several may run against PostgreSQL and a Qdrant
    server; the embedded store allows one process)."""
    from cli.ingest import run_worker

    try:
        _migrate(settings)
        run_worker(settings, console, once)
    except ConfigurationError as error:
        _fail(error)


@main.command()
@click.option("--limit", default=20, show_default=True, help="How many recent jobs.")
@click.pass_obj
def jobs(settings: Settings, limit: int) -> None:
    """List recent ingestion jobs with their progress."""
    from cli.ingest import print_jobs

    _migrate(settings)
    print_jobs(settings, Console(), limit)


@main.command()
@click.option("--host", default=None, help="Bind address [ENCLAVE_HOST, 127.0.0.1].")
@click.option("--port", default=None, type=int, help="Port [ENCLAVE_PORT, 8000].")
@click.pass_obj
def serve(settings: Settings, host: str | None, port: int | None) -> None:
    """Serve the search page and the HTTP API."""
    import uvicorn

    from app.main import create_app

    settings = settings.model_copy(
        update={"host": host or settings.host, "port": port or settings.port}
    )
    problems = settings.missing_files()
    if problems:
        _fail(ConfigurationError("\n".join(problems)))
    try:
        settings.check_auth_mode()
    except ConfigurationError as error:
        _fail(error)
    _migrate(settings)
    if settings.auth == "off":
        console.print("[yellow]Authentication is off[/yellow] (ENCLAVE_AUTH=off, loopback only).")
    console.print(f"Enclave is starting; open [bold]http://{settings.host}:{settings.port}[/bold]")
    uvicorn.run(create_app(settings), host=settings.host, port=settings.port, log_level="info")


@main.command()
@click.argument("query")
@click.option("-k", default=None, type=int, help="How many passages [ENCLAVE_SEARCH_TOP_K].")
@click.option(
    "--mode",
    type=click.Choice(["dense", "sparse", "hybrid"]),
    default=None,
    help="By meaning, by words (BM25), or both [ENCLAVE_SEARCH_MODE].",
)
@click.pass_obj
def search(settings: Settings, query: str, k: int | None, mode: str | None) -> None:
    """Print the passages best matching QUERY."""
    from app.answering.retrieval import Retriever
    from enclave.embedder import Embedder
    from enclave.vectorstore import SearchMode, open_store

    try:
        store = open_store(settings)
        embedder = Embedder.from_settings(settings)
    except ConfigurationError as error:
        _fail(error)
        return
    try:
        retriever = Retriever(embedder, store, SearchMode(mode or settings.search_mode))
        hits = retriever.search(query, k or settings.search_top_k)
    finally:
        store.close()
    table = Table("relevance", "title", "page", "text")
    for hit in hits:
        table.add_row(f"{hit.relevance:.3f}", hit.title, str(hit.page or ""), hit.text[:160])
    Console().print(table)


@main.command()
@click.argument("question")
@click.option("-k", default=None, type=int, help="Passages given to the model [ENCLAVE_ASK_TOP_K].")
@click.pass_obj
def ask(settings: Settings, question: str, k: int | None) -> None:
    """Answer QUESTION from the knowledge base, with its sources."""
    from app.answering.answers import Token
    from app.services import Services

    try:
        services = Services.build(settings)
    except ConfigurationError as error:
        _fail(error)
        return

    async def run() -> None:
        from app.answering.answers import Done

        with services.generator.admit():
            async for event in services.answers.ask_stream(question, k or settings.ask_top_k):
                if isinstance(event, Token):
                    click.echo(event.text, nl=False)
                elif isinstance(event, Done):
                    click.echo()
                    for c in event.answer.citations:
                        page = f", page {c.page}" if c.page else ""
                        click.echo(f"[{c.n}] {c.title}{page} — {c.source}")

    try:
        asyncio.run(run())
    finally:
        services.close()


main.add_command(eval_command)
main.add_command(keys_command)
main.add_command(users_command)
main.add_command(audit_command)
main.add_command(doctor_command)


if __name__ == "__main__":
    main()
