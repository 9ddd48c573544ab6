"""The OpenAPI document and its viewer, both served by Enclave alone.

- `openapi_config()`: /schema (and /schema/swagger) is Swagger UI from app/static/vendor/
  (no CDN, no web fonts), /schema/openapi.json and .yaml the document. The page has no
  inline script or style, so it is served with the site's strict CSP like every other page.
- `ErrorResponses`: a plugin that documents, in one place, the refusals every route can give
  before its handler runs: 401 (no or bad credentials, `WWW-Authenticate`), 403 (a scope
  guard, or a browser's cross-site request), 429 (rate limit, `Retry-After`) and, on routes
  that generate, 503 (the generation queue is full, `Retry-After`). Public routes
  (marked PUBLIC or SIGN_IN: app/security/routes.py) claim none of them. Under /v1 the
  bodies have OpenAI's error shape, as app/api/openai_compat.py answers them there.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from html import escape
from typing import Any, cast

import msgspec
from litestar import Request, Router
from litestar.handlers import HTTPRouteHandler
from litestar.openapi import OpenAPIConfig, ResponseSpec
from litestar.openapi.plugins import JsonRenderPlugin, OpenAPIRenderPlugin, YamlRenderPlugin
from litestar.openapi.spec import (
    Components,
    OpenAPIHeader,
    OpenAPIResponse,
    OpenAPIType,
    Operation,
    Schema,
    SecurityScheme,
)
from litestar.plugins import ReceiveRoutePlugin
from litestar.routes import BaseRoute, HTTPRoute

from app.answering.generation import Generator
from app.openai_schemas import ErrorResponse
from app.security.routes import PUBLIC, is_public
from app.security.sessions import SAFE_METHODS

TITLE = "Enclave"
VERSION = "0.1.0"
SCHEMA_PATH = "/schema"
# Under app/static (served at /static by app.main); see its LICENSE and NOTICE.
VIEWER = "vendor/swagger-ui"
BEARER = "apiKey"


# --- error bodies ----------------------------------------------------------------------------


class ErrorBody(msgspec.Struct):
    """Litestar's error reply, which Enclave's own refusals (app.main's 503 included) use."""

    status_code: int
    detail: str


@dataclass(frozen=True)
class Refusal:
    status: int
    description: str
    header: str | None = None  # the response header the client should read
    header_description: str = ""
    header_type: OpenAPIType = field(default=OpenAPIType.STRING)

    def spec(self, openai: bool) -> ResponseSpec:
        body: Any = ErrorResponse if openai else ErrorBody
        return ResponseSpec(body, description=self.description, generate_examples=False)


UNAUTHORIZED = Refusal(
    401,
    "No credentials, or an API key that is not valid, has expired or was revoked. Send "
    "`Authorization: Bearer <API key>`.",
    "WWW-Authenticate",
    'The scheme to use: `Bearer realm="enclave"`.',
)
FORBIDDEN = Refusal(
    403,
    "The caller lacks the scope this route needs, or a browser session sent a state-changing "
    "request from another site.",
)
RATE_LIMITED = Refusal(
    429,
    "Over this caller's rate limit (ENCLAVE_RATE_LIMIT_PER_MINUTE).",
    "Retry-After",
    "Seconds to wait before the next request.",
    OpenAPIType.INTEGER,
)
BUSY = Refusal(
    503,
    "The generation queue is full; try again later.",
    "Retry-After",
    "Seconds to wait before retrying.",
    OpenAPIType.INTEGER,
)
REFUSALS = {r.status: r for r in (UNAUTHORIZED, FORBIDDEN, RATE_LIMITED, BUSY)}


# --- which refusals a route can give -----------------------------------------------------------


def has_scope_guard(handler: HTTPRouteHandler) -> bool:
    """True when a `requires(scope)` guard (app/security/auth.py) applies, on the handler or a
    layer above it. The raw guards are read: resolve_guards() wraps them and hides the name."""
    guards = [g for layer in handler.ownership_layers for g in (layer.guards or [])]
    return any(getattr(g, "__name__", "").startswith("requires_") for g in guards)


def generates(handler: HTTPRouteHandler) -> bool:
    """A handler that takes the `Generator` dependency admits work to the generation queue,
    which answers 503 when full."""
    parameters = handler.parsed_fn_signature.parameters.values()
    return any(field.annotation is Generator for field in parameters)


def refusals_for(path: str, handler: HTTPRouteHandler) -> list[Refusal]:
    if is_public(handler):
        return []
    found = [UNAUTHORIZED, RATE_LIMITED]
    if has_scope_guard(handler) or not set(handler.http_methods) <= SAFE_METHODS:
        found.append(FORBIDDEN)
    if generates(handler):
        found.append(BUSY)
    return sorted(found, key=lambda r: r.status)


# --- the plugin --------------------------------------------------------------------------------


class _Authenticated:
    """Mixed into a route's Operation class: the API-key requirement, and the headers of the
    refusals (ResponseSpec has no headers)."""

    responses: Mapping[str, Any] | None
    security: list[dict[str, list[str]]] | None

    def __post_init__(self) -> None:
        parent = getattr(super(), "__post_init__", None)
        if parent is not None:
            parent()
        self.security = [{BEARER: []}]
        for status, reply in (self.responses or {}).items():
            refusal = REFUSALS.get(int(status)) if status.isdigit() else None
            if refusal and refusal.header and isinstance(reply, OpenAPIResponse):
                reply.headers = {
                    **(reply.headers or {}),
                    refusal.header: OpenAPIHeader(
                        schema=Schema(type=refusal.header_type),
                        description=refusal.header_description,
                        required=True,
                    ),
                }


_AUTHENTICATED: dict[type[Operation], type[Operation]] = {}


def authenticated(operation_class: type[Operation]) -> type[Operation]:
    """`operation_class` with _Authenticated mixed in (routes may have their own, e.g.
    app.schemas.StreamableOperation)."""
    if issubclass(operation_class, _Authenticated):
        return operation_class
    if operation_class not in _AUTHENTICATED:
        # Made a dataclass again so that its __init__ calls __post_init__ (Operation has none).
        mixed: type[Any] = type(operation_class.__name__, (_Authenticated, operation_class), {})
        _AUTHENTICATED[operation_class] = cast(type[Operation], dataclass(mixed))
    return _AUTHENTICATED[operation_class]


class ErrorResponses(ReceiveRoutePlugin):
    """Adds the refusals to every route's documented responses as the route is registered
    (the OpenAPI document is built later, on first request). A route's own `responses` win."""

    def receive_route(self, route: BaseRoute) -> None:
        if not isinstance(route, HTTPRoute):
            return
        openai = route.path_format.startswith("/v1/") or route.path_format == "/v1"
        for handler in route.route_handlers:
            refusals = refusals_for(route.path_format, handler)
            if not refusals:
                continue
            specs = {r.status: r.spec(openai) for r in refusals}
            handler.responses = {**specs, **(handler.responses or {})}
            handler.operation_class = authenticated(handler.operation_class)


# --- the viewer --------------------------------------------------------------------------------


class SwaggerPage(OpenAPIRenderPlugin):
    """Swagger UI from app/static/vendor, started by a script file there: no inline script or
    style (Litestar's own pages inline both, and load from CDNs), so the site's CSP applies."""

    def __init__(self, path: str | Sequence[str] = ("/", "/swagger")) -> None:
        super().__init__(path=path, favicon="", style="")

    def render(self, request: Request[Any, Any, Any], openapi_schema: dict[str, Any]) -> bytes:
        def static(name: str) -> str:
            return escape(request.app.route_reverse("static", file_path=f"/{VIEWER}/{name}"))

        title = escape(str(openapi_schema["info"]["title"]))
        document = escape(self.get_openapi_json_route(request))
        return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} API</title>
<link rel="icon" type="image/png" href="{static("favicon-32x32.png")}">
<link rel="stylesheet" href="{static("swagger-ui.css")}">
</head>
<body>
<div id="swagger-ui" data-url="{document}"></div>
<script src="{static("swagger-ui-bundle.js")}"></script>
<script src="{static("enclave-init.js")}"></script>
</body>
</html>
""".encode()


def openapi_config() -> OpenAPIConfig:
    """A new config per app (Litestar keeps state on it)."""
    return OpenAPIConfig(
        title=TITLE,
        version=VERSION,
        path=SCHEMA_PATH,
        # The API description is public (app/security/routes.py).
        openapi_router=Router(
            path=SCHEMA_PATH, route_handlers=[], opt=PUBLIC, include_in_schema=False
        ),
        render_plugins=[
            SwaggerPage(),
            JsonRenderPlugin(path="/openapi.json"),
            YamlRenderPlugin(path=["/openapi.yaml", "/openapi.yml"]),
        ],
        components=Components(
            security_schemes={
                BEARER: SecurityScheme(
                    type="http",
                    scheme="bearer",
                    description="An API key (`enclave keys create`): `Authorization: Bearer "
                    "enc_…`.",
                )
            }
        ),
    )
