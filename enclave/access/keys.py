"""API keys for apps and scripts.

A key reads `enc_<prefix>_<secret>`: the prefix (public, 12 hex characters) finds its row, the
secret (32 random bytes, URL-safe base64) proves it. Only a salted scrypt digest of the secret
is stored (`hashlib.scrypt`, OpenSSL's implementation), so a copy of the database yields no
usable key. scrypt costs ~50 ms on purpose; a verified key is remembered for a minute
(by a SHA-256 of it, in memory) so each request does not pay that again, while revocation and
expiry are still read from the database on every request.
"""

import hashlib
import hmac
import re
import secrets
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from enclave.access.principal import ALL_GROUPS, SCOPES, Principal, check_group_names
from enclave.db import ApiKey, Database
from enclave.db.keys import KeyRepository
from enclave.db.models import utcnow

KEY_PREFIX = "enc"
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1  # 16 MiB, the interactive-login setting
_TOKEN = re.compile(r"^enc_([0-9a-f]{12})_([A-Za-z0-9_-]{43})$")
_DURATION = re.compile(r"^(\d+)\s*([hdwy])$")
_UNITS = {"h": timedelta(hours=1), "d": timedelta(days=1), "w": timedelta(weeks=1)}
CACHE_SECONDS = 60.0
TOUCH_EVERY = timedelta(minutes=1)


def digest(secret: str, salt: bytes) -> bytes:
    return hashlib.scrypt(
        secret.encode(), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P, dklen=32, maxmem=64 << 20
    )


def parse_duration(text: str) -> timedelta:
    """'90d', '12h', '8w', '1y' → a timedelta; a ValueError saying the format otherwise."""
    match = _DURATION.match(text.strip().lower())
    if not match or int(match.group(1)) == 0:
        raise ValueError(f"expiry must look like 90d, 12h, 8w or 1y, not {text!r}")
    count, unit = int(match.group(1)), match.group(2)
    return timedelta(days=365 * count) if unit == "y" else count * _UNITS[unit]


def check_scopes(scopes: Sequence[str]) -> list[str]:
    names = [s.strip() for s in scopes if s.strip()]
    unknown = [s for s in names if s not in SCOPES]
    if unknown or not names:
        raise ValueError(
            f"scopes must be some of {', '.join(SCOPES)}"
            + (f"; unknown: {', '.join(unknown)}" if unknown else "")
        )
    return list(dict.fromkeys(names))


@dataclass(frozen=True)
class CreatedKey:
    key: ApiKey
    token: str  # shown once, never stored


def create_key(
    database: Database,
    name: str,
    groups: Sequence[str],
    scopes: Sequence[str],
    expires_in: timedelta | None = None,
) -> CreatedKey:
    """Store a new key and return it with its token (the only time the token exists)."""
    if not name.strip():
        raise ValueError("a key needs a name (who or what uses it)")
    wanted_groups = [ALL_GROUPS] if list(groups) == [ALL_GROUPS] else check_group_names(groups)
    if not wanted_groups:
        raise ValueError("a key needs at least one group (or '*' for every group)")
    prefix = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    salt = secrets.token_bytes(16)
    row = ApiKey(
        name=name.strip(),
        prefix=prefix,
        hash=digest(secret, salt).hex(),
        salt=salt.hex(),
        groups=wanted_groups,
        scopes=check_scopes(scopes),
        expires_at=utcnow() + expires_in if expires_in else None,
    )
    with database.session() as session:
        KeyRepository(session).add(row)
    return CreatedKey(row, f"{KEY_PREFIX}_{prefix}_{secret}")


def key_state(key: ApiKey, now: datetime) -> str:
    if key.revoked_at is not None:
        return "revoked"
    if key.expires_at is not None and _aware(key.expires_at) <= now:
        return "expired"
    return "active"


def _aware(moment: datetime) -> datetime:
    """SQLite returns naive datetimes (stored as UTC)."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def principal_of(key: ApiKey) -> Principal:
    groups = None if ALL_GROUPS in key.groups else tuple(key.groups)
    return Principal(f"key:{key.id}", "key", key.name, groups, frozenset(key.scopes))


class KeyVerifier:
    """Turns a bearer token into the key's Principal, or None (unknown, wrong, expired or
    revoked: the caller is not told which). Thread-safe; blocking (call it off the loop)."""

    def __init__(self, database: Database, cache_seconds: float = CACHE_SECONDS) -> None:
        self.database = database
        self.cache_seconds = cache_seconds
        self._verified: dict[str, tuple[bytes, float]] = {}  # prefix → (sha256(token), when)
        self._lock = threading.Lock()

    def verify(self, token: str) -> Principal | None:
        match = _TOKEN.match(token)
        if match is None:
            return None
        prefix, secret = match.groups()
        now = utcnow()
        with self.database.session() as session:
            repository = KeyRepository(session)
            key = repository.by_prefix(prefix)
            if key is None or key_state(key, now) != "active":
                return None
            if not self._remembered(prefix, token):
                expected = bytes.fromhex(key.hash)
                if not hmac.compare_digest(digest(secret, bytes.fromhex(key.salt)), expected):
                    return None
                self._remember(prefix, token)
            if key.last_used_at is None or now - _aware(key.last_used_at) > TOUCH_EVERY:
                repository.touch(key.id, now)
            return principal_of(key)

    def _remembered(self, prefix: str, token: str) -> bool:
        with self._lock:
            found = self._verified.get(prefix)
        if found is None or time.monotonic() - found[1] > self.cache_seconds:
            return False
        return hmac.compare_digest(found[0], hashlib.sha256(token.encode()).digest())

    def _remember(self, prefix: str, token: str) -> None:
        with self._lock:
            if len(self._verified) > 10_000:  # bounded: keys are few, this never evicts in use
                self._verified.clear()
            self._verified[prefix] = (hashlib.sha256(token.encode()).digest(), time.monotonic())
