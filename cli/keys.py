"""`enclave keys create|list|revoke`: API keys for apps and scripts.

The key is printed once, on standard output, when created; only a scrypt hash of it is kept.
"""

import sys
from datetime import UTC, datetime

import click
from rich.console import Console

from cli.common import Row, open_database, print_rows, split_list, when
from enclave.settings import Settings

console = Console(stderr=True)


@click.group("keys")
def keys_command() -> None:
    """Create, list and revoke API keys (`Authorization: Bearer <key>`)."""


@keys_command.command("create")
@click.option("--name", required=True, help="Who or what uses the key.")
@click.option(
    "--groups",
    required=True,
    help="Access groups whose documents the key sees, comma-separated ('*': every group).",
)
@click.option(
    "--scopes",
    default="search,ask",
    show_default=True,
    help="What the key may do: search, ask, ingest, admin (comma-separated).",
)
@click.option("--expires", default=None, help="Lifetime, e.g. 90d, 12h, 8w, 1y (default: none).")
@click.pass_obj
def create(settings: Settings, name: str, groups: str, scopes: str, expires: str | None) -> None:
    """Create a key and print it once (only its hash is stored)."""
    from enclave.access.audit import record_command
    from enclave.access.keys import create_key, parse_duration

    try:
        lifetime = parse_duration(expires) if expires else None
        database = open_database(settings)
        try:
            created = create_key(database, name, split_list(groups), split_list(scopes), lifetime)
            record_command(
                database, settings, "key_create", key_id=created.key.id, name=created.key.name,
                prefix=created.key.prefix, groups=created.key.groups, scopes=created.key.scopes,
            )  # fmt: skip
        finally:
            database.dispose()
    except ValueError as error:
        console.print(f"[red]error:[/red] {error}")
        sys.exit(2)
    key = created.key
    until = f", expires {when(key.expires_at)} UTC" if key.expires_at else ""
    console.print(
        f"Created key '{key.name}' (prefix {key.prefix}; groups {','.join(key.groups)}; "
        f"scopes {','.join(key.scopes)}{until}). Store it now: it is not shown again."
    )
    click.echo(created.token)


@keys_command.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def list_keys(settings: Settings, as_json: bool) -> None:
    """List keys (never the keys themselves: their prefix, groups, scopes and state)."""
    from enclave.access.keys import key_state
    from enclave.db.keys import KeyRepository

    database = open_database(settings)
    now = datetime.now(UTC)
    try:
        with database.session() as session:
            rows: list[Row] = [
                {
                    "name": k.name,
                    "prefix": k.prefix,
                    "groups": list(k.groups),
                    "scopes": list(k.scopes),
                    "state": key_state(k, now),
                    "created_at": when(k.created_at),
                    "expires_at": when(k.expires_at),
                    "last_used_at": when(k.last_used_at),
                }
                for k in KeyRepository(session).list()
            ]
    finally:
        database.dispose()
    headers = ["name", "prefix", "groups", "scopes", "state", "created", "expires", "last used"]
    print_rows(rows, headers, as_json)


@keys_command.command("revoke")
@click.argument("key")
@click.pass_obj
def revoke(settings: Settings, key: str) -> None:
    """Revoke KEY (its name or prefix): it stops working at once."""
    from enclave.access.audit import record_command
    from enclave.db.keys import KeyRepository

    database = open_database(settings)
    try:
        with database.session() as session:
            repository = KeyRepository(session)
            found = repository.find(key.strip())
            if len(found) != 1:
                reason = "no key" if not found else f"{len(found)} keys"
                console.print(
                    f"[red]error:[/red] {reason} named '{key}'"
                    + ("; give its prefix (enclave keys list)" if found else "")
                )
                sys.exit(2)
            repository.revoke(found[0])
            name, prefix, key_id = found[0].name, found[0].prefix, found[0].id
        record_command(database, settings, "key_revoke", key_id=key_id, name=name, prefix=prefix)
    finally:
        database.dispose()
    console.print(f"Revoked key '{name}' (prefix {prefix}).")
