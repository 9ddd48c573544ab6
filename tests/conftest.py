"""Shared fixtures: real parts on small data.

- the egress guard is installed before anything else is imported;
- databases: SQLite in a temporary folder, and a fresh PostgreSQL database per test;
- Qdrant in local (embedded) mode in a temporary folder;
- the real all-MiniLM-L6-v2 embedder, loaded once per session;
- llama.cpp with a tiny random-weight Llama GGUF written by the tests (tests/support/tiny_gguf.py).
"""

import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.support.egress_guard import GUARD, EgressGuard

GUARD.install()

import enclave  # noqa: E402  (after the guard: its import switches libraries offline)
from enclave.db import Database  # noqa: E402
from enclave.db.migrate import upgrade  # noqa: E402
from enclave.embedder import Embedder  # noqa: E402
from enclave.settings import Settings  # noqa: E402
from enclave.vectorstore import VectorStore, open_store  # noqa: E402
from tests.support.paths import ROOT  # noqa: E402

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

    from ingest.worker import JobReport

SAMPLES = ROOT / "samples"
SHARED = ROOT.parent / "shared"
POSTGRES_ADMIN_URL = os.environ.get(
    "ENCLAVE_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)

assert enclave  # imported for its side effect


@pytest.fixture(scope="session")
def egress_guard() -> EgressGuard:
    return GUARD


@pytest.fixture(scope="module")
def browser() -> "Iterator[Browser]":
    """Chromium for a module's browser tests (tests/support/browsers.py). Not for the session:
    Playwright's sync API holds an event loop open in this thread while it runs, and later
    tests call asyncio.run()."""
    from tests.support.browsers import launch_chromium

    with launch_chromium() as launched:
        yield launched


@pytest.fixture
def page(browser: "Browser", base_url: str) -> "Iterator[Page]":
    """A desktop-sized page on the module's `base_url` (the service under test); a
    JavaScript error on it fails the test."""
    context = browser.new_context(base_url=base_url, viewport={"width": 1100, "height": 900})
    context.set_default_timeout(30_000)
    opened = context.new_page()
    errors: list[str] = []
    opened.on("pageerror", lambda error: errors.append(str(error)))
    yield opened
    context.close()
    assert not errors, f"JavaScript errors: {errors}"


@pytest.fixture(scope="session")
def embedder() -> Embedder:
    return Embedder.from_settings(Settings(_env_file=None))  # type: ignore[call-arg]


@pytest.fixture(scope="session")
def tiny_gguf(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tests.support.tiny_gguf import write_tiny_llama_gguf

    return write_tiny_llama_gguf(tmp_path_factory.mktemp("models") / "tiny-llama.gguf")


# --- databases ---------------------------------------------------------------------------


def _postgres_available() -> bool:
    from sqlalchemy import create_engine, text

    def ping() -> bool:
        engine = create_engine(POSTGRES_ADMIN_URL)
        try:
            with engine.connect() as connection:
                connection.execute(text("SELECT 1"))
            return True
        except Exception:
            return False
        finally:
            engine.dispose()

    if ping():
        return True
    clusters = Path("/etc/postgresql")
    if shutil.which("pg_ctlcluster") and clusters.is_dir():
        for version in os.listdir(clusters):
            subprocess.run(
                ["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", "start"],
                capture_output=True,
                check=False,
            )
        return ping()
    return False


@pytest.fixture(scope="session")
def postgres_available() -> bool:
    return _postgres_available()


@pytest.fixture
def postgres_url(postgres_available: bool) -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test, dropped afterwards."""
    if not postgres_available:
        pytest.skip("PostgreSQL is not reachable at " + POSTGRES_ADMIN_URL)
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    name = f"enclave_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(POSTGRES_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'enclave.db'}"
    url: str = request.getfixturevalue("postgres_url")
    return url


# --- settings and parts --------------------------------------------------------------------


TEST_HOST = "testserver.local"


def make_settings(data_dir: Path, **overrides: object) -> Settings:
    """Test settings. Authentication is off (the app binds loopback): tests of other
    features call the API anonymously; tests/app/test_auth.py and test_leaks.py pass auth="on"."""
    values: dict[str, object] = {
        "data_dir": data_dir,
        "_env_file": None,
        "auth": "off",
        # Litestar's TestClient sends `Host: testserver.local`; uvicorn-served tests use
        # 127.0.0.1. The defaults themselves are tested in tests/app/test_attacks.py.
        "allowed_hosts": [TEST_HOST, "127.0.0.1", "localhost"],
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


def tiny_model_settings(data_dir: Path, tiny_gguf: Path, **overrides: object) -> Settings:
    """Settings for the tiny random-weight GGUF (trained context 2048; its output is noise,
    so a few tokens are enough)."""
    values: dict[str, object] = {
        "llm_model_path": tiny_gguf,
        "llm_context_size": 2048,
        "llm_max_tokens": 24,
    }
    return make_settings(data_dir, **{**values, **overrides})


def index_folder(settings: Settings, embedder: Embedder, folder: Path) -> "JobReport":
    """Migrate, then sync `folder` into the settings' store in this process, and close the
    store again: embedded Qdrant allows one client per folder, and the app opens its own."""
    from ingest.pipeline import Ingestor
    from ingest.worker import Worker, sync_now

    upgrade(settings.database_url)
    database = Database.from_settings(settings)
    store = open_store(settings)
    try:
        ingestor = Ingestor.from_settings(settings, database, store, embedder)
        return sync_now(Worker(database, ingestor), folder)
    finally:
        store.close()
        database.dispose()


@pytest.fixture
def settings(tmp_path: Path, database_url: str, tiny_gguf: Path) -> Settings:
    return tiny_model_settings(tmp_path / "var", tiny_gguf, database_url=database_url)


@pytest.fixture
def database(settings: Settings) -> Iterator[Database]:
    upgrade(settings.database_url)
    db = Database.from_settings(settings)
    yield db
    db.dispose()


@pytest.fixture
def store(settings: Settings) -> Iterator[VectorStore]:
    vector_store = open_store(settings)
    yield vector_store
    vector_store.close()
