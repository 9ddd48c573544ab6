"""Build the Litestar application."""

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from litestar import Litestar, Request, Response
from litestar.contrib.jinja import JinjaTemplateEngine
from litestar.openapi import OpenAPIConfig
from litestar.static_files import create_static_files_router
from litestar.template import TemplateConfig

from app.api.ask import AskController
from app.api.documents import DocumentController
from app.api.health import HealthController
from app.api.jobs import JobController
from app.api.search import SearchController
from app.dependencies import DEPENDENCIES
from app.generation import GeneratorBusy
from app.services import Services
from app.web.pages import PageController
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
    model across apps); otherwise they are built at start-up and closed at shutdown."""
    resolved: Settings = settings or (services.settings if services else Settings())

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        owned = services is None
        if services is None:
            ready = await asyncio.to_thread(Services.build, resolved)
        else:
            ready = services
        app.state.services = ready
        if resolved.embedded_worker:
            ready.start_worker()
        try:
            yield
        finally:
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
            PageController,
            create_static_files_router(path="/static", directories=[HERE / "static"]),
        ],
        dependencies=DEPENDENCIES,
        lifespan=[lifespan],
        exception_handlers={GeneratorBusy: _busy},
        template_config=TemplateConfig(directory=HERE / "templates", engine=JinjaTemplateEngine),
        openapi_config=OpenAPIConfig(title="Enclave", version="0.1.0", path="/schema"),
        request_max_body_size=1_000_000,
        debug=False,
    )
