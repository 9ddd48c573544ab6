"""Local users: people who sign in with a name and password on the login page (sites without
SSO). Passwords are stored as salted scrypt digests, with the same parameters as API keys
(`enclave.access.keys.digest`); `enclave users …` manages them.
"""

import hmac
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass

from enclave.access.keys import check_scopes, digest
from enclave.access.principal import ALL_GROUPS, Principal, check_group_names
from enclave.db import Database, User
from enclave.db.users import UserRepository

MIN_PASSWORD = 12
MAX_PASSWORD = 1024  # scrypt of a huge "password" would be a cheap way to burn CPU
_NAME = re.compile(r"^[a-z0-9][a-z0-9_.@+-]{0,63}$")
# Verified against when the name is unknown, so a wrong name costs as long as a wrong password.
_DUMMY_SALT = secrets.token_bytes(16)
_DUMMY_HASH = digest("not a password", _DUMMY_SALT)


def normal_name(username: str) -> str:
    """User names are case-insensitive: stored and compared in lower case."""
    return username.strip().lower()


def check_username(username: str) -> str:
    name = normal_name(username)
    if not _NAME.match(name):
        raise ValueError(
            f"invalid user name {username!r}: letters, digits and _ . @ + - only, "
            "starting with a letter or digit, at most 64 characters"
        )
    return name


def check_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise ValueError(f"the password must have at least {MIN_PASSWORD} characters")
    if len(password) > MAX_PASSWORD:
        raise ValueError(f"the password may have at most {MAX_PASSWORD} characters")
    return password


def _hashed(password: str) -> tuple[str, str]:
    salt = secrets.token_bytes(16)
    return digest(password, salt).hex(), salt.hex()


def create_user(
    database: Database,
    username: str,
    password: str,
    groups: Sequence[str],
    scopes: Sequence[str],
) -> User:
    name = check_username(username)
    wanted_groups = [ALL_GROUPS] if list(groups) == [ALL_GROUPS] else check_group_names(groups)
    if not wanted_groups:
        raise ValueError("a user needs at least one group (or '*' for every group)")
    password_hash, salt = _hashed(check_password(password))
    row = User(
        username=name,
        password_hash=password_hash,
        salt=salt,
        groups=wanted_groups,
        scopes=check_scopes(scopes),
    )
    with database.session() as session:
        repository = UserRepository(session)
        if repository.by_name(name) is not None:
            raise ValueError(f"a user named '{name}' exists already")
        repository.add(row)
    return row


def set_password(database: Database, username: str, password: str) -> User:
    """Change the password and end the user's sessions (a stolen session ends with it)."""
    password_hash, salt = _hashed(check_password(password))
    with database.session() as session:
        repository = UserRepository(session)
        user = repository.by_name(normal_name(username))
        if user is None:
            raise ValueError(f"no user named '{normal_name(username)}'")
        user.password_hash, user.salt = password_hash, salt
        repository.end_sessions_of(user.id)
    return user


def disable_user(database: Database, username: str) -> tuple[User, int]:
    """Disable the user; their live sessions end at once. Returns the user and how many
    sessions ended."""
    with database.session() as session:
        repository = UserRepository(session)
        user = repository.by_name(normal_name(username))
        if user is None:
            raise ValueError(f"no user named '{normal_name(username)}'")
        ended = repository.disable(user)
    return user, ended


def user_state(user: User) -> str:
    return "disabled" if user.disabled_at is not None else "active"


def principal_of(user: User) -> Principal:
    groups = None if ALL_GROUPS in user.groups else tuple(user.groups)
    return Principal(f"user:{user.username}", "user", user.username, groups, frozenset(user.scopes))


@dataclass(frozen=True)
class SignIn:
    user_id: str
    principal: Principal


def verify_password(database: Database, username: str, password: str) -> SignIn | None:
    """The user, when the name and password match an enabled user; None otherwise (which of
    the two was wrong is not said). Blocking: scrypt takes ~50 ms on purpose."""
    name = normal_name(username)
    if not name or len(password) > MAX_PASSWORD:
        return None
    with database.session() as session:
        user = UserRepository(session).by_name(name)
        if user is None:
            hmac.compare_digest(digest(password, _DUMMY_SALT), _DUMMY_HASH)
            return None
        matches = hmac.compare_digest(
            digest(password, bytes.fromhex(user.salt)), bytes.fromhex(user.password_hash)
        )
        if not matches or user.disabled_at is not None:
            return None
        return SignIn(user.id, principal_of(user))
