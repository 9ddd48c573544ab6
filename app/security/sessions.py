"""Sign-in sessions of local users, their CSRF tokens, and the login throttle.

The `enclave_session` cookie is `<token>.<signature>`: 32 random bytes (URL-safe base64) and
an HMAC of them under the service's secret (enclave/secret_key.py), so a forged or altered
cookie is refused without a database query. The database keeps only a SHA-256 of the token
with its user and expiry (enclave/db/users.py): signing out and disabling the user end the
session on the server. The cookie is HttpOnly, SameSite=Lax, Secure over https.

A cookie is an ambient credential: the browser sends it with any request to this site,
including one a hostile page triggers. So a state-changing request authenticated by it must
carry a CSRF token, an HMAC of the session token (purpose "csrf"), in the `X-CSRF-Token`
header (scripts, from `<meta name="csrf-token">`) or the `csrf_token` form field (plain
forms). Requests with an API key carry no ambient credential and need none.

The login form itself is protected against login CSRF by a pre-session cookie
(`enclave_login`, a random nonce) whose HMAC (purpose "login") the form must send back.
"""

import hashlib
import hmac
import re
import secrets
import threading
import time
from collections import deque
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from litestar.connection import ASGIConnection
from litestar.datastructures import Cookie
from litestar.enums import RequestEncodingType
from litestar.exceptions import PermissionDeniedException
from litestar.types import ASGIApp, Receive, Scope, Send

from enclave.access.principal import Principal
from enclave.access.users import principal_of
from enclave.db import Database, LoginSession
from enclave.db.models import utcnow
from enclave.db.users import UserRepository
from enclave.secret_key import keyed_hash

COOKIE = "enclave_session"
LOGIN_COOKIE = "enclave_login"
CSRF_HEADER = "x-csrf-token"
CSRF_FIELDS = ("csrf_token", "_csrf_token")  # ours, and Litestar's `csrf_input` name
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}  # change nothing: no CSRF or same-site check
THROTTLE_WINDOW = 15 * 60.0
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{43}$")
_SIGNATURE = re.compile(r"^[0-9a-f]{64}$")


def token_hash(token: str) -> str:
    """What the database keeps of a session token."""
    return hashlib.sha256(token.encode()).hexdigest()


def expired_cookie(key: str, path: str = "/") -> Cookie:
    """Tells the browser to forget the cookie `key`."""
    return Cookie(key=key, value="", max_age=0, path=path, httponly=True, samesite="lax")


def is_https(connection: ASGIConnection[Any, Any, Any, Any]) -> bool:
    forwarded = (connection.headers.get("x-forwarded-proto") or "").split(",")[0].strip()
    return connection.url.scheme == "https" or forwarded.lower() == "https"


class Sessions:
    """Starts, reads and ends sign-in sessions; signs cookies and CSRF tokens.
    Database calls block (call them off the event loop)."""

    def __init__(self, database: Database, key: bytes, hours: float) -> None:
        self.database = database
        self.key = key
        self.lifetime = timedelta(hours=hours)

    # --- the cookie --------------------------------------------------------------------------

    def _sign(self, token: str, purpose: str) -> str:
        return keyed_hash(self.key, purpose, token)

    def cookie_value(self, token: str) -> str:
        return f"{token}.{self._sign(token, 'session')}"

    def token_of(self, cookie: str | None) -> str | None:
        """The session token of a cookie whose signature holds; None for anything else."""
        token, _, signature = (cookie or "").partition(".")
        if not _TOKEN.match(token) or not _SIGNATURE.match(signature):
            return None
        if not hmac.compare_digest(signature, self._sign(token, "session")):
            return None
        return token

    def cookie(self, token: str, secure: bool) -> Cookie:
        return Cookie(
            key=COOKIE,
            value=self.cookie_value(token),
            max_age=int(self.lifetime.total_seconds()),
            path="/",
            httponly=True,
            secure=secure,
            samesite="lax",
        )

    # --- the database ------------------------------------------------------------------------

    def start(self, user_id: str) -> str:
        """A new session for the user; its token (to put in the cookie, never stored)."""
        token = secrets.token_urlsafe(32)
        now = utcnow()
        with self.database.session() as session:
            repository = UserRepository(session)
            repository.purge_expired(now)  # keeps the table to the live sessions
            repository.add_session(
                LoginSession(
                    id=token_hash(token), user_id=user_id, created_at=now,
                    expires_at=now + self.lifetime,
                )
            )  # fmt: skip
            repository.touch_login(user_id, now)
        return token

    def principal(self, token: str) -> Principal | None:
        """The signed-in user, or None when the session ended, expired, or the user was
        disabled."""
        with self.database.session() as session:
            found = UserRepository(session).live_session(token_hash(token), utcnow())
            return principal_of(found[1]) if found else None

    def end(self, token: str) -> bool:
        with self.database.session() as session:
            return UserRepository(session).end_session(token_hash(token))

    # --- CSRF --------------------------------------------------------------------------------

    def csrf_token(self, token: str) -> str:
        return self._sign(token, "csrf")

    def login_token(self, nonce: str) -> str:
        return self._sign(nonce, "login")

    def matches(self, expected: str, given: str | None) -> bool:
        return bool(given) and hmac.compare_digest(expected, str(given))


@dataclass(frozen=True)
class SessionAuth:
    """`request.auth` of a request authenticated by the session cookie."""

    token: str


async def sent_csrf_token(connection: ASGIConnection[Any, Any, Any, Any]) -> str | None:
    """The token in the header or, for a form post, the form field. Reading the form here
    leaves it parsed in the request's scope, where the handler finds it again."""
    given = connection.headers.get(CSRF_HEADER)
    if given:
        return given
    content_type = (connection.headers.get("content-type") or "").split(";")[0].strip().lower()
    if content_type not in (RequestEncodingType.URL_ENCODED, RequestEncodingType.MULTI_PART):
        return None
    request = connection.app.request_class(connection.scope, connection.receive)
    form = await request.form()
    for field in CSRF_FIELDS:
        value = form.get(field)
        if isinstance(value, str) and value:
            return value
    return None


async def check_csrf(
    connection: ASGIConnection[Any, Any, Any, Any], sessions: Sessions, token: str
) -> None:
    """403 unless a state-changing request sends the session's CSRF token."""
    if connection.scope.get("method", "GET") in SAFE_METHODS:
        return
    if not sessions.matches(sessions.csrf_token(token), await sent_csrf_token(connection)):
        raise PermissionDeniedException(
            "CSRF token missing or wrong: reload the page and try again (scripts send the "
            "page's csrf-token in an X-CSRF-Token header; forms a csrf_token field)."
        )


class CsrfMiddleware:
    """After authentication: a request authenticated by the session cookie that changes
    state must send the session's CSRF token. A middleware of its own (not part of
    EnclaveAuth) because a form's field can only be read with the request's body."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        auth = scope.get("auth") if scope["type"] == "http" else None
        if isinstance(auth, SessionAuth):
            # app/state.py's Running (not imported: it imports this module).
            sessions: Sessions = scope["app"].state.enclave.sessions
            await check_csrf(ASGIConnection(scope, receive), sessions, auth.token)
        await self.app(scope, receive, send)


CSRF_MIDDLEWARE = CsrfMiddleware


class LoginThrottle:
    """Failed sign-ins per user name within the last 15 minutes; at `max_failures` the name
    is refused until the oldest failure leaves the window. Per process (kept in app.state)."""

    MAX_NAMES = 10_000  # bounds memory when someone tries many names

    def __init__(self, max_failures: int, window: float = THROTTLE_WINDOW) -> None:
        self.max_failures = max_failures
        self.window = window
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def retry_after(self, name: str) -> int | None:
        """Seconds until the name may try again, or None when it may now."""
        now = time.monotonic()
        with self._lock:
            failures = self._recent(name, now)
            if failures is None or len(failures) < self.max_failures:
                return None
            return max(1, int(failures[0] + self.window - now) + 1)

    def failed(self, name: str) -> None:
        now = time.monotonic()
        with self._lock:
            if len(self._failures) >= self.MAX_NAMES:
                self._forget_stale(now)
            self._failures.setdefault(name, deque()).append(now)
            while len(self._failures[name]) > self.max_failures:
                self._failures[name].popleft()

    def succeeded(self, name: str) -> None:
        with self._lock:
            self._failures.pop(name, None)

    def _recent(self, name: str, now: float) -> deque[float] | None:
        failures = self._failures.get(name)
        while failures and failures[0] <= now - self.window:
            failures.popleft()
        return failures

    def _forget_stale(self, now: float) -> None:
        for name in list(self._failures):
            if not self._recent(name, now):
                del self._failures[name]
        if len(self._failures) >= self.MAX_NAMES:  # all live: drop the oldest half
            oldest = sorted(self._failures, key=lambda n: self._failures[n][-1])
            for name in oldest[: len(oldest) // 2]:
                del self._failures[name]
