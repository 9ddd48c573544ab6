"""Per-caller rate limits and the security headers of every response.

The rate limit counts requests per authenticated caller (`Principal.id`: one API key, one
person), not per address: many people share a proxy's address, and one key may be used from
many hosts. Over the limit the answer is 429 with `Retry-After` (seconds to wait). The
counts live in the app's in-memory store: per process, reset on restart.
"""

from time import time
from typing import Any

from litestar import Request
from litestar.datastructures import MutableScopeHeaders
from litestar.middleware import DefineMiddleware
from litestar.middleware.rate_limit import CacheObject, RateLimitConfig, RateLimitMiddleware
from litestar.types import Message, Scope

from app.security.routes import PUBLIC_KEY
from enclave.settings import Settings

# No inline script or style anywhere in the pages (app/templates, app/static), so scripts and
# styles may come from this site only; nothing may frame the pages (clickjacking).
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; "
    "frame-ancestors 'none'"
)
HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
}


def caller_id(request: Request[Any, Any, Any]) -> str:
    """The rate-limit bucket: the authenticated caller (the auth middleware runs first)."""
    user = request.scope.get("user")
    principal_id = getattr(user, "id", None)
    return f"principal:{principal_id}" if principal_id else "anonymous"


class EnclaveRateLimit(RateLimitMiddleware):
    def create_response_headers(self, cache_object: CacheObject) -> dict[str, str]:
        headers = super().create_response_headers(cache_object)
        headers["Retry-After"] = str(max(1, cache_object.reset - int(time())))
        return headers


def rate_limit(settings: Settings) -> DefineMiddleware | None:
    """The rate-limit middleware, or None when ENCLAVE_RATE_LIMIT_PER_MINUTE is 0 or
    authentication is off (the single-user demo on loopback: there is no one to share with)."""
    per_minute = settings.rate_limit_per_minute
    if per_minute <= 0 or settings.auth == "off":
        return None
    return RateLimitConfig(
        rate_limit=("minute", per_minute),
        exclude_opt_key=PUBLIC_KEY,  # public routes (app/security/routes.py)
        identifier_for_request=caller_id,
        middleware_class=EnclaveRateLimit,
    ).middleware


async def security_headers(message: Message, scope: Scope) -> None:
    """A `before_send` hook: every response gets the headers, error replies made outside the
    middleware (401, 429) included. The API viewer at /schema is a page of our own with no
    inline script (app/openapi.py), so it gets the same CSP."""
    if message["type"] != "http.response.start":
        return
    headers = MutableScopeHeaders.from_message(message)
    for name, value in HEADERS.items():
        headers[name] = value
    # A response that set its own (stricter) policy keeps it: stored originals are sandboxed.
    if "Content-Security-Policy" not in headers:
        headers["Content-Security-Policy"] = CSP
