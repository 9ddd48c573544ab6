"""Authentication of every request, and the scope checks.

`EnclaveAuth` runs before each handler (health probes, static files and the OpenAPI schema
excepted) and sets `request.user` to the caller's `Principal`, or answers 401:

1. `Authorization: Bearer enc_…`: an API key;
2. from an address in ENCLAVE_AUTH_TRUSTED_PROXY only: the person the SSO proxy names in
   `X-Forwarded-User` (or `X-Forwarded-Email`), with the comma-separated
   `X-Forwarded-Groups`; the same headers from anyone else are ignored;
3. with ENCLAVE_AUTH=off (loopback only): the anonymous local user, who sees everything.

Between 1 and 2, the `enclave_session` cookie of a local user signed in on the login page
(app/security/sessions.py); a state-changing request riding on it must also send its CSRF
token. A browser asking for a page without credentials is sent to /login (303), API clients
get 401.

The proxy's browser sessions are ambient credentials, so a state-changing request carrying
them must come from this site (Origin / Sec-Fetch-Site), which stops cross-site forms.
Handlers receive the caller as the `principal` dependency; `requires(scope)` guards a route.
"""

import asyncio
import ipaddress
from typing import Any
from urllib.parse import urlencode

from litestar import Request, Response
from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.handlers.base import BaseRouteHandler
from litestar.middleware import DefineMiddleware
from litestar.middleware.authentication import (
    AbstractAuthenticationMiddleware,
    AuthenticationResult,
)
from litestar.response import Redirect
from litestar.types import Guard
from litestar.utils.scope.state import ScopeState

from app.security.routes import PUBLIC_KEY
from app.security.sessions import COOKIE, SAFE_METHODS, SessionAuth, Sessions, expired_cookie
from app.state import running
from enclave.access.principal import ANONYMOUS, SCOPES, Principal, check_group_names
from enclave.settings import Scope, Settings

CHALLENGE = {"WWW-Authenticate": 'Bearer realm="enclave"'}


def unauthorized(message: str) -> NotAuthorizedException:
    return NotAuthorizedException(detail=message, headers=CHALLENGE)


class SignInRequired(NotAuthorizedException):
    """A browser asked for a page without credentials: answered with a 303 to the login page
    (`sign_in_redirect`), a 401 for anything that does not handle it."""

    def __init__(self, path: str, stale_cookie: bool) -> None:
        super().__init__(detail="Sign in first.", headers=CHALLENGE)
        self.location = "/login?" + urlencode({"next": path}) if path != "/" else "/login"
        self.stale_cookie = stale_cookie


def sign_in_redirect(_: Request[Any, Any, Any], exc: SignInRequired) -> Response[Any]:
    cookies = [expired_cookie(COOKIE)] if exc.stale_cookie else []
    return Redirect(exc.location, status_code=303, cookies=cookies)


def wants_page(connection: ASGIConnection[Any, Any, Any, Any]) -> bool:
    """A browser navigating to a page (not a script or API client)."""
    path: str = connection.scope.get("path", "")
    return (
        connection.scope.get("method") in ("GET", "HEAD")
        and "text/html" in (connection.headers.get("accept") or "")
        and not path.startswith(("/api/", "/v1/"))
        and path not in ("/api", "/v1")
    )


def from_trusted_proxy(host: str | None, settings: Settings) -> bool:
    if not host or not settings.auth_trusted_proxy:
        return False
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return any(
        address in ipaddress.ip_network(entry, strict=False)
        for entry in settings.auth_trusted_proxy
    )


def proxy_principal(headers: Any, settings: Settings) -> Principal | None:
    """The person the proxy names, or None when it names nobody."""
    user = (headers.get("x-forwarded-user") or headers.get("x-forwarded-email") or "").strip()
    if not user:
        return None
    try:
        groups = check_group_names((headers.get("x-forwarded-groups") or "").split(","))
    except ValueError as error:
        raise unauthorized(f"X-Forwarded-Groups: {error}") from None
    admin = not set(groups).isdisjoint(settings.auth_admin_groups)
    scopes = frozenset(SCOPES) if admin else frozenset(settings.auth_proxy_scopes)
    return Principal(f"proxy:{user}", "proxy", user, tuple(groups), scopes)


def check_same_site(
    connection: ASGIConnection[Any, Any, Any, Any], opaque_origin_ok: bool = False
) -> None:
    """Refuse a state-changing request that a browser says came from another site.

    `Sec-Fetch-Site` (which pages cannot forge) decides when sent. Without it, `Origin`
    must name this host; our `Referrer-Policy: no-referrer` makes browsers send
    `Origin: null` with form posts, accepted only where a CSRF token is checked as well
    (`opaque_origin_ok`: sign-in sessions and the login form)."""
    if connection.scope.get("method", "GET") in SAFE_METHODS:
        return
    headers = connection.headers
    site = headers.get("sec-fetch-site")
    if site in ("cross-site", "same-site"):
        raise PermissionDeniedException("cross-site request refused")
    if site == "same-origin":
        return
    origin = headers.get("origin")
    if origin == "null" and opaque_origin_ok:
        return
    if origin:
        host = headers.get("x-forwarded-host") or headers.get("host") or ""
        if origin.split("://", 1)[-1].rstrip("/") != host.split(",")[0].strip():
            raise PermissionDeniedException("cross-site request refused")


class EnclaveAuth(AbstractAuthenticationMiddleware):
    async def authenticate_request(
        self, connection: ASGIConnection[Any, Any, Any, Any]
    ) -> AuthenticationResult:
        state = running(connection.app)
        settings = state.settings
        if settings.auth == "off":
            # No credentials, so any page the local user opens could post here: refuse
            # state changes a browser says come from another site.
            check_same_site(connection)
            return AuthenticationResult(ANONYMOUS, "off")
        header = connection.headers.get("authorization")
        if header:
            scheme, _, token = header.partition(" ")
            if scheme.lower() != "bearer" or not token.strip():
                raise unauthorized("Send the API key as 'Authorization: Bearer <key>'.")
            principal = await asyncio.to_thread(state.keys.verify, token.strip())
            if principal is None:
                raise unauthorized("The API key is not valid, or has expired or been revoked.")
            return AuthenticationResult(principal, "key")
        cookie = connection.cookies.get(COOKIE)
        if cookie:
            signed_in = await _session_user(connection, state.sessions, cookie)
            if signed_in is not None:
                return signed_in
        client = connection.client.host if connection.client else None
        if from_trusted_proxy(client, settings):
            person = proxy_principal(connection.headers, settings)
            if person is not None:
                check_same_site(connection)
                return AuthenticationResult(person, "proxy")
        if wants_page(connection):
            path = connection.scope.get("path", "/")
            query = connection.scope.get("query_string", b"").decode("latin-1")
            raise SignInRequired(f"{path}?{query}" if query else path, bool(cookie))
        raise unauthorized(
            "Authentication required: send 'Authorization: Bearer <API key>' (an administrator "
            "creates keys with `enclave keys create`), sign in on the login page (/login), or "
            "through the company's single sign-on."
        )


async def _session_user(
    connection: ASGIConnection[Any, Any, Any, Any], sessions: Sessions, cookie: str
) -> AuthenticationResult | None:
    """The local user the session cookie belongs to; None for a forged, altered, ended or
    expired one (the signature is checked before the database is asked). A state-changing
    request must come from this site, and carry the session's CSRF token (CsrfMiddleware,
    next in line, checks it: 403 otherwise)."""
    token = sessions.token_of(cookie)
    if token is None:
        return None
    principal = await asyncio.to_thread(sessions.principal, token)
    if principal is None:
        return None
    check_same_site(connection, opaque_origin_ok=True)
    # Templates read it with Litestar's `csrf_token()` (base.html's meta tag, form fields).
    ScopeState.from_scope(connection.scope).csrf_token = sessions.csrf_token(token)
    return AuthenticationResult(principal, SessionAuth(token))


# Routes marked PUBLIC or SIGN_IN (app/security/routes.py) are open to everyone.
AUTH_MIDDLEWARE = DefineMiddleware(EnclaveAuth, exclude_from_auth_key=PUBLIC_KEY)


def provide_principal(request: Request[Any, Any, Any]) -> Principal:
    """The caller, as authenticated by EnclaveAuth (the seam for audit and metrics)."""
    principal: Principal = request.user
    return principal


def requires(scope: Scope) -> Guard:
    """A route guard: 403 unless the caller holds `scope` (admin holds every scope)."""

    def guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
        principal: Principal = connection.user
        if not principal.can(scope):
            raise PermissionDeniedException(
                f"This {_what(principal)} lacks the '{scope}' scope needed here."
            )

    guard.__name__ = f"requires_{scope}"
    return guard


def sees_every_group(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    """A route guard: 403 unless the caller sees every group. For what records people's
    questions and the documents they read across groups (the audit trail): an
    administrator of some groups must not read what members of others asked."""
    principal: Principal = connection.user
    if principal.groups is not None:
        raise PermissionDeniedException(
            f"This {_what(principal)} is limited to some access groups; the audit trail is "
            "readable only by a caller who sees every group (a key made with --groups '*')."
        )


def _what(principal: Principal) -> str:
    return {"key": "API key", "proxy": "account", "user": "account"}.get(principal.kind, "caller")
