"""Build the Litestar application."""

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from litestar import Litestar, Request, Response
from litestar.contrib.jinja import JinjaTemplateEngine
from litestar.middleware import DefineMiddleware
from litestar.static_files import create_static_files_router
from litestar.template import TemplateConfig

from app.answering.generation import GeneratorBusy
from app.api.ask import AskController
from app.api.audit import AuditController
from app.api.documents import DocumentController
from app.api.feedback import FeedbackController
from app.api.health import HealthController
from app.api.jobs import JobController
from app.api.openai_compat import OpenAIController
from app.api.search import SearchController
from app.dependencies import DEPENDENCIES
from app.metrics import PROMETHEUS, MetricsController
from app.openapi import ErrorResponses, openapi_config
from app.security.audit import AUDIT_MIDDLEWARE
from app.security.auth import AUTH_MIDDLEWARE, SignInRequired, sign_in_redirect
from app.security.bounds import RequestBounds
from app.security.hosts import HostCheck
from app.security.limits import rate_limit, security_headers
from app.security.routes import PUBLIC
from app.security.sessions import CSRF_MIDDLEWARE
from app.services import Services
from app.state import STATE_KEY, Running
from app.web import PAGES
from enclave.access.audit import purge_loop
from enclave.secret_key import load_secret_key
from enclave.settings import Settings

HERE = Path(__file__).parent
log = logging.getLogger(__name__)


def _busy(_: Request, busy: GeneratorBusy) -> Response[dict[str, str | int]]:
    return Response(
        {"status_code": 503, "detail": str(busy)},
        status_code=503,
        headers={"Retry-After": str(busy.retry_after)},
    )


def create_app(settings: Settings | None = None, services: Services | None = None) -> Litestar:
    """The service. Given `services`, the caller owns them (tests share one embedder and
    model across apps); otherwise they are built at start-up and closed at shutdown.
    Every request is authenticated (app/security): a ConfigurationError here when
    ENCLAVE_AUTH=off is asked for on an address other than loopback."""
    resolved: Settings = settings or (services.settings if services else Settings())
    resolved.check_auth_mode()
    if services is not None:
        services.settings.check_auth_mode()

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        owned = services is None
        if services is None:
            ready = await asyncio.to_thread(Services.build, resolved)
        else:
            ready = services
        # One typed home for what the app holds (app/state.py); access control follows
        # this app's settings.
        secret = await asyncio.to_thread(load_secret_key, resolved)
        started = Running.start(ready, resolved, secret)
        setattr(app.state, STATE_KEY, started)
        purging = asyncio.create_task(purge_loop(started.audit))
        if resolved.embedded_worker:
            ready.start_worker()
        try:
            yield
        finally:
            purging.cancel()
            ready.stop_worker()
            if owned:
                ready.close()

    return Litestar(
        route_handlers=[
            HealthController,
            SearchController,
            AskController,
            DocumentController,
            JobController,
            OpenAIController,
            FeedbackController,
            AuditController,
            MetricsController,
            *PAGES,
            create_static_files_router(path="/static", directories=[HERE / "static"], opt=PUBLIC),
        ],
        dependencies=DEPENDENCIES,
        # Outermost first: metrics, the audit record (it sees the caller the auth middleware names),
        # then authentication, the CSRF check of sign-in sessions, then the per-caller rate limit.
        middleware=[
            PROMETHEUS.middleware,  # counts every reply, refused ones included
            # Only our own host names: a DNS-rebinding page's Host is its own domain (400).
            DefineMiddleware(HostCheck, hosts=resolved.host_names()),
            # Bounded query strings and JSON depth, before anything decodes them.
            DefineMiddleware(RequestBounds, max_json_bytes=resolved.max_json_bytes),
            AUDIT_MIDDLEWARE,
            AUTH_MIDDLEWARE,
            CSRF_MIDDLEWARE,  # state changes riding on the session cookie need its CSRF token
            *filter(None, [rate_limit(resolved)]),
        ],
        lifespan=[lifespan],
        before_send=[security_headers],  # CSP, nosniff, no framing, no referrer
        exception_handlers={
            GeneratorBusy: _busy,
            SignInRequired: sign_in_redirect,
        },
        template_config=TemplateConfig(directory=HERE / "templates", engine=JinjaTemplateEngine),
        openapi_config=openapi_config(),  # app/openapi.py: local viewer, documented refusals
        plugins=[ErrorResponses()],
        request_max_body_size=resolved.max_json_bytes,  # uploads set their own
        debug=False,
    )
