"""Authentication of every request, and the scope checks.

`EnclaveAuth` runs before each handler (health probes, static files and the OpenAPI schema
excepted) and sets `request.user` to the caller's `Principal`, or answers 401:

1. `Authorization: Bearer enc_…`: an API key;
2. from an address in ENCLAVE_AUTH_TRUSTED_PROXY only: the person the SSO proxy names in
   `X-Forwarded-User` (or `X-Forwarded-Email`), with the comma-separated
   `X-Forwarded-Groups`; the same headers from anyone else are ignored;
3. with ENCLAVE_AUTH=off (loopback only): the anonymous local user, who sees everything.

The proxy's browser sessions are ambient credentials, so a state-changing request carrying
them must come from this site (Origin / Sec-Fetch-Site), which stops cross-site forms.
Handlers receive the caller as the `principal` dependency; `requires(scope)` guards a route.
"""

import asyncio
import ipaddress
from typing import Any

from litestar import Request
from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.handlers.base import BaseRouteHandler
from litestar.middleware import DefineMiddleware
from litestar.middleware.authentication import (
    AbstractAuthenticationMiddleware,
    AuthenticationResult,
)
from litestar.types import Guard

from app.security.keys import KeyVerifier
from app.security.principal import ANONYMOUS, SCOPES, Principal, check_group_names
from enclave.settings import Scope, Settings

CHALLENGE = {"WWW-Authenticate": 'Bearer realm="enclave"'}
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
# Open to everyone: probes, assets, the API description.
PUBLIC_PATHS = [r"^/healthz$", r"^/readyz$", r"^/static/", r"^/schema(/|$)"]


def unauthorized(message: str) -> NotAuthorizedException:
    return NotAuthorizedException(detail=message, headers=CHALLENGE)


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


def check_same_site(connection: ASGIConnection[Any, Any, Any, Any]) -> None:
    """Refuse a state-changing request that a browser says came from another site."""
    if connection.scope.get("method", "GET") in SAFE_METHODS:
        return
    headers = connection.headers
    if headers.get("sec-fetch-site") in ("cross-site", "same-site"):
        raise PermissionDeniedException("cross-site request refused")
    origin = headers.get("origin")
    if origin:
        host = headers.get("x-forwarded-host") or headers.get("host") or ""
        if origin.split("://", 1)[-1].rstrip("/") != host.split(",")[0].strip():
            raise PermissionDeniedException("cross-site request refused")


class EnclaveAuth(AbstractAuthenticationMiddleware):
    async def authenticate_request(
        self, connection: ASGIConnection[Any, Any, Any, Any]
    ) -> AuthenticationResult:
        state = connection.app.state
        settings: Settings = state.auth_settings
        if settings.auth == "off":
            return AuthenticationResult(ANONYMOUS, "off")
        header = connection.headers.get("authorization")
        if header:
            scheme, _, token = header.partition(" ")
            if scheme.lower() != "bearer" or not token.strip():
                raise unauthorized("Send the API key as 'Authorization: Bearer <key>'.")
            verifier: KeyVerifier = state.key_verifier
            principal = await asyncio.to_thread(verifier.verify, token.strip())
            if principal is None:
                raise unauthorized("The API key is not valid, or has expired or been revoked.")
            return AuthenticationResult(principal, "key")
        client = connection.client.host if connection.client else None
        if from_trusted_proxy(client, settings):
            person = proxy_principal(connection.headers, settings)
            if person is not None:
                check_same_site(connection)
                return AuthenticationResult(person, "proxy")
        raise unauthorized(
            "Authentication required: send 'Authorization: Bearer <API key>' (an administrator "
            "creates keys with `enclave keys create`), or sign in through the company's "
            "single sign-on."
        )


AUTH_MIDDLEWARE = DefineMiddleware(EnclaveAuth, exclude=PUBLIC_PATHS)


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


def _what(principal: Principal) -> str:
    return {"key": "API key", "proxy": "account", "user": "account"}.get(principal.kind, "caller")
