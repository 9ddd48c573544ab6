"""What the administration commands (`enclave keys|users|audit`) share: the database they
open, list options, and how they print rows."""

import json
from datetime import datetime
from typing import TYPE_CHECKING

import click
from rich.console import Console
from rich.table import Table

from enclave.settings import Settings

if TYPE_CHECKING:
    from enclave.db import Database

Row = dict[str, str | list[str]]


def open_database(settings: Settings) -> "Database":
    """The database, migrated first unless ENCLAVE_AUTO_MIGRATE is off."""
    from enclave.db import Database
    from enclave.db.migrate import upgrade

    if settings.auto_migrate:
        upgrade(settings.database_url)
    return Database.from_settings(settings)


def split_list(value: str) -> list[str]:
    """A comma-separated option's items."""
    return [part.strip() for part in value.split(",") if part.strip()]


def when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M") if moment else ""


def print_rows(rows: list[Row], headers: list[str], as_json: bool) -> None:
    """JSON on standard output, or a table with `headers` (one per row key, in order)."""
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    table = Table(*headers)
    for row in rows:
        table.add_row(*(",".join(v) if isinstance(v, list) else str(v) for v in row.values()))
    Console().print(table)
