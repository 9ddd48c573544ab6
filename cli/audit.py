"""`enclave audit export|purge`: the audit trail out of the database, and its retention."""

import csv
import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import click
from rich.console import Console

from cli.common import open_database
from enclave.access.audit import parse_since
from enclave.db import AuditEvent
from enclave.settings import Settings

console = Console(stderr=True)
COLUMNS = [
    "id", "created_at", "actor", "actor_name", "action", "method", "path", "status", "outcome",
    "latency_ms", "query", "query_hash", "documents", "chunks", "detail",
]  # fmt: skip


def as_row(event: AuditEvent) -> dict[str, Any]:
    moment = event.created_at if event.created_at.tzinfo else event.created_at.replace(tzinfo=UTC)
    row = {name: getattr(event, name) for name in COLUMNS}
    row["created_at"] = moment.isoformat()
    return row


def since_option(text: str | None) -> datetime | None:
    """`parse_since`, or a usage error saying what is expected."""
    try:
        return parse_since(text)
    except ValueError as error:
        raise click.BadParameter(str(error)) from None


def write_events(events: Any, out: IO[str], fmt: str) -> int:
    count = 0
    writer = csv.DictWriter(out, COLUMNS) if fmt == "csv" else None
    if writer:
        writer.writeheader()
    for event in events:
        row = as_row(event)
        if writer:
            # Lists and the detail as JSON inside their cells.
            for name in ("documents", "chunks", "detail"):
                row[name] = json.dumps(row[name], ensure_ascii=False)
            writer.writerow(row)
        else:
            out.write(json.dumps(row, ensure_ascii=False) + "\n")
        count += 1
    return count


@click.group("audit")
def audit_command() -> None:
    """Export and purge the audit trail (who searched, asked, uploaded, deleted, changed
    keys or permissions; ENCLAVE_AUDIT_RETENTION_DAYS, ENCLAVE_AUDIT_HASH_QUERIES)."""


@audit_command.command("export")
@click.option("--since", default=None, help="Events at or after (ISO 8601), e.g. 2024-01-01.")
@click.option(
    "--format", "fmt", type=click.Choice(["jsonl", "csv"]), default="jsonl", show_default=True
)
@click.option("-o", "--output", type=click.Path(path_type=Path), help="File (default: stdout).")
@click.pass_obj
def export(settings: Settings, since: str | None, fmt: str, output: Path | None) -> None:
    """Write audit events, oldest first, as JSON lines or CSV."""
    from enclave.db.audit import AuditRepository

    moment = since_option(since)
    database = open_database(settings)
    try:
        with database.session() as session:
            events = AuditRepository(session).stream(moment)
            if output is None:
                count = write_events(events, sys.stdout, fmt)
            else:
                with output.open("w", encoding="utf-8", newline="") as out:
                    count = write_events(events, out, fmt)
    finally:
        database.dispose()
    console.print(f"{count} audit events exported")


@audit_command.command("purge")
@click.pass_obj
def purge(settings: Settings) -> None:
    """Delete events older than ENCLAVE_AUDIT_RETENTION_DAYS (the service does so daily)."""
    from enclave.access.audit import AuditRecorder

    database = open_database(settings)
    try:
        gone = AuditRecorder(database, settings).purge()
    finally:
        database.dispose()
    days = settings.audit_retention_days
    kept = f"older than {days} days" if days else "none: retention is unlimited (0)"
    console.print(f"purged {gone} audit events ({kept})")
