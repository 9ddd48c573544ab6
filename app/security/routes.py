"""Facts about a route that the middleware reads from its handler's `opt`, so that a route
states them where it is defined: whether it is public (no authentication, no rate limit) and
which audit action it is, or that it is not audited.

    @get("/healthz", opt=PUBLIC)
    @post(opt=audited("upload"))

Controllers and routers may carry them for all their routes (`opt = PUBLIC` on the class).
"""

from typing import Any

from litestar.handlers.base import BaseRouteHandler

# Litestar's authentication middleware skips handlers with this key set.
PUBLIC_KEY = "exclude_from_auth"
AUDIT_KEY = "audit"

# Probes, assets and the API description: open to everyone, not audited.
PUBLIC: dict[str, Any] = {PUBLIC_KEY: True, AUDIT_KEY: False}
# The login form and logout: open to everyone; audited (login, login_failed, logout).
SIGN_IN: dict[str, Any] = {PUBLIC_KEY: True}
# Job progress, polled every second by the pages: not audited.
UNAUDITED: dict[str, Any] = {AUDIT_KEY: False}


def audited(action: str) -> dict[str, Any]:
    """The audit action of a route (`search`, `ask`, `upload`, ...)."""
    return {AUDIT_KEY: action}


def is_public(handler: BaseRouteHandler | None) -> bool:
    return handler is not None and bool(handler.opt.get(PUBLIC_KEY))


def audit_action(handler: BaseRouteHandler | None, method: str) -> str | None:
    """The route's audit action; None when it is not audited. Routes that name none are
    `read` (GET, HEAD) or `write`."""
    action = handler.opt.get(AUDIT_KEY) if handler is not None else None
    if action is False:
        return None
    if isinstance(action, str):
        return action
    return "read" if method in ("GET", "HEAD") else "write"
