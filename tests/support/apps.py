"""The service on parts the tests own: a migrated database and `Services` built on the
session's embedder, the app on them in Litestar's TestClient or under uvicorn, all closed
again on the way out.

- `built_services`: for a fixture that needs the parts themselves (a second app on them,
  keys written through `services.database`, the worker or the generator held by a test);
- `app_client` / `served_app`: for one that needs only the app, over TestClient or a socket.

Each migrates first: harmless when the database was migrated (and written) already, as it is
after `index_folder` or where keys are created before the service starts.
"""

from collections.abc import Iterator
from contextlib import contextmanager

from litestar import Litestar
from litestar.testing import TestClient

from app.main import create_app
from app.services import Services
from enclave.db.migrate import upgrade
from enclave.embedder import Embedder
from enclave.settings import Settings
from tests.support.serving import serving


@contextmanager
def built_services(settings: Settings, embedder: Embedder) -> Iterator[Services]:
    """Migrate the settings' database, build every part on the shared `embedder`, and close
    them all when the block ends."""
    upgrade(settings.database_url)
    services = Services.build(settings, embedder=embedder)
    try:
        yield services
    finally:
        services.close()


@contextmanager
def app_client(settings: Settings, embedder: Embedder) -> Iterator[TestClient[Litestar]]:
    """The app on freshly built services in Litestar's TestClient, its lifespan entered."""
    with (
        built_services(settings, embedder) as services,
        TestClient(create_app(settings, services=services)) as client,
    ):
        yield client


@contextmanager
def served_app(settings: Settings, embedder: Embedder) -> Iterator[str]:
    """The app on freshly built services under uvicorn on loopback; yields its base URL."""
    with (
        built_services(settings, embedder) as services,
        serving(create_app(settings, services=services)) as url,
    ):
        yield url
