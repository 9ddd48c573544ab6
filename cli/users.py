"""`enclave users create|list|disable|passwd`: local users who sign in on the login page
(for sites without SSO).

Passwords are asked twice at a hidden prompt, or read from standard input with
`--password-stdin` (scripts); only a scrypt hash is kept. Disabling a user or changing their
password ends their sessions at once.
"""

import sys
from typing import NoReturn

import click
from rich.console import Console

from cli.common import Row, open_database, print_rows, split_list, when
from enclave.settings import Settings

console = Console(stderr=True)


def _fail(message: str) -> NoReturn:
    console.print(f"[red]error:[/red] {message}")
    sys.exit(2)


def _password(from_stdin: bool) -> str:
    """The new password: one line of standard input, or typed twice at a hidden prompt."""
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    value: str = click.prompt("Password", hide_input=True, confirmation_prompt=True, err=True)
    return value


password_stdin = click.option(
    "--password-stdin",
    is_flag=True,
    help="Read the password from the first line of standard input (for scripts).",
)


@click.group("users")
def users_command() -> None:
    """Create, list and disable local users, and change their passwords."""


@users_command.command("create")
@click.argument("name")
@click.option(
    "--groups",
    required=True,
    help="Access groups whose documents the user sees, comma-separated ('*': every group).",
)
@click.option(
    "--scopes",
    default="search,ask",
    show_default=True,
    help="What the user may do: search, ask, ingest, admin (comma-separated).",
)
@password_stdin
@click.pass_obj
def create(settings: Settings, name: str, groups: str, scopes: str, password_stdin: bool) -> None:
    """Create the user NAME (at least 12 characters of password)."""
    from enclave.access.audit import record_command
    from enclave.access.users import check_password, check_username, create_user

    try:
        check_username(name)
        password = check_password(_password(password_stdin))
        database = open_database(settings)
        try:
            user = create_user(database, name, password, split_list(groups), split_list(scopes))
            record_command(
                database, settings, "user_create", username=user.username,
                groups=user.groups, scopes=user.scopes,
            )  # fmt: skip
        finally:
            database.dispose()
    except ValueError as error:
        _fail(str(error))
    console.print(
        f"Created user '{user.username}' (groups {','.join(user.groups)}; "
        f"scopes {','.join(user.scopes)}). They sign in at /login."
    )


@users_command.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def list_users(settings: Settings, as_json: bool) -> None:
    """List users with their groups, scopes, state and last sign-in."""
    from enclave.access.users import user_state
    from enclave.db.users import UserRepository

    database = open_database(settings)
    try:
        with database.session() as session:
            rows: list[Row] = [
                {
                    "name": u.username,
                    "groups": list(u.groups),
                    "scopes": list(u.scopes),
                    "state": user_state(u),
                    "created_at": when(u.created_at),
                    "last_login_at": when(u.last_login_at),
                }
                for u in UserRepository(session).list()
            ]
    finally:
        database.dispose()
    print_rows(rows, ["name", "groups", "scopes", "state", "created", "last sign-in"], as_json)


@users_command.command("disable")
@click.argument("name")
@click.pass_obj
def disable(settings: Settings, name: str) -> None:
    """Disable NAME: they cannot sign in, and their open sessions end at once."""
    from enclave.access.audit import record_command
    from enclave.access.users import disable_user

    database = open_database(settings)
    try:
        try:
            user, ended = disable_user(database, name)
        except ValueError as error:
            _fail(str(error))
        record_command(
            database, settings, "user_disable", username=user.username, sessions_ended=ended
        )
    finally:
        database.dispose()
    console.print(f"Disabled user '{user.username}'; {ended} session(s) ended.")


@users_command.command("passwd")
@click.argument("name")
@password_stdin
@click.pass_obj
def passwd(settings: Settings, name: str, password_stdin: bool) -> None:
    """Set a new password for NAME (their open sessions end)."""
    from enclave.access.audit import record_command
    from enclave.access.users import check_password, set_password

    try:
        password = check_password(_password(password_stdin))
        database = open_database(settings)
        try:
            user = set_password(database, name, password)
            record_command(database, settings, "user_passwd", username=user.username)
        finally:
            database.dispose()
    except ValueError as error:
        _fail(str(error))
    console.print(f"Changed the password of '{user.username}'; their sessions ended.")
