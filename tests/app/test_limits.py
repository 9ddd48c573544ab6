"""Request limits and security headers: per-caller rate limits (429 + Retry-After), body and
query size limits, and the headers every page and API reply carries (a CSP that the pages
satisfy: no inline script or style in any template).

Real parts: the app with SQLite, the Edge store, the MiniLM embedder and the tiny GGUF.
"""

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import TestClient

from app.main import HERE, create_app
from app.services import Services
from enclave.access.keys import create_key
from enclave.db import Database
from enclave.db.migrate import upgrade
from enclave.embedder import Embedder
from tests.conftest import tiny_model_settings
from tests.support.apps import built_services

PER_MINUTE = 6


@dataclass(frozen=True)
class World:
    client: TestClient[Any]
    first: dict[str, str]
    second: dict[str, str]
    third: dict[str, str]
    fourth: dict[str, str]
    fifth: dict[str, str]
    services: Services


@pytest.fixture(scope="module")
def world(
    tmp_path_factory: pytest.TempPathFactory, tiny_gguf: Path, embedder: Embedder
) -> Iterator[World]:
    tmp = tmp_path_factory.mktemp("limits")
    settings = tiny_model_settings(
        tmp / "var",
        tiny_gguf,
        database_url=f"sqlite:///{tmp / 'enclave.db'}",
        auth="on",
        rate_limit_per_minute=PER_MINUTE,
        max_json_bytes=4096,
        max_query_chars=200,
    )
    upgrade(settings.database_url)
    database = Database.from_settings(settings)
    try:
        tokens = [create_key(database, n, ["*"], ["admin"]).token for n in "12345"]
    finally:
        database.dispose()
    with (
        built_services(settings, embedder) as services,
        TestClient(create_app(services=services)) as client,
    ):
        headers = [{"Authorization": f"Bearer {t}"} for t in tokens]
        yield World(client, *headers, services)


def test_rate_limit_is_per_caller_with_retry_after(world: World) -> None:
    statuses = [
        world.client.get("/api/search", params={"q": "x"}, headers=world.first).status_code
        for _ in range(PER_MINUTE)
    ]
    assert statuses == [200] * PER_MINUTE
    over = world.client.get("/api/search", params={"q": "x"}, headers=world.first)
    assert over.status_code == 429
    assert 1 <= int(over.headers["Retry-After"]) <= 60
    assert over.headers["X-Content-Type-Options"] == "nosniff"
    # Another key is counted on its own, and probes are never limited.
    assert world.client.get("/api/search", params={"q": "x"}, headers=world.second).is_success
    assert world.client.get("/healthz").status_code == 200
    with world.services.database.session() as session:
        from enclave.db.audit import AuditRepository

        last = AuditRepository(session).since(None)[-2]  # before the second key's search
        assert last.status == 429 and last.outcome == "throttled"


def test_body_and_query_size_limits(world: World) -> None:
    big = world.client.post("/api/ask", json={"question": "x" * 10_000}, headers=world.third)
    assert big.status_code == 413
    long_query = world.client.get("/api/search", params={"q": "y" * 300}, headers=world.third)
    assert long_query.status_code == 400 and "200" in long_query.text


@pytest.mark.parametrize("path", ["/", "/library", "/api/search?q=z", "/healthz", "/nope"])
def test_security_headers(world: World, path: str) -> None:
    response = world.client.get(path, headers=world.fourth)
    assert response.status_code == (404 if path == "/nope" else 200)
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert "unsafe-inline" not in csp


def test_error_replies_made_by_middleware_carry_the_headers(world: World) -> None:
    unauthenticated = world.client.get("/api/search", params={"q": "x"})
    assert unauthenticated.status_code == 401
    assert unauthenticated.headers["X-Content-Type-Options"] == "nosniff"
    assert "frame-ancestors 'none'" in unauthenticated.headers["Content-Security-Policy"]


def test_pages_have_no_inline_script_or_style() -> None:
    """What lets the CSP forbid inline code: every script is a file, no style attributes or
    event-handler attributes."""
    templates = sorted((HERE / "templates").glob("*.html"))
    assert templates
    for template in templates:
        html = template.read_text()
        for tag in re.findall(r"<script\b[^>]*>", html):
            assert "src=" in tag, f"{template.name}: inline script {tag}"
        assert not re.search(r"<style\b", html), f"{template.name}: <style> block"
        assert not re.search(r"\sstyle\s*=", html), f"{template.name}: style attribute"
        assert not re.search(r"\son[a-z]+\s*=", html), f"{template.name}: event attribute"


def test_metrics_need_admin_and_count_requests(world: World) -> None:
    assert world.client.get("/metrics").status_code == 401
    world.client.get("/api/search", params={"q": "metrics"}, headers=world.fifth)
    response = world.client.get("/metrics", headers=world.fifth)
    assert response.status_code == 200
    assert "enclave_requests_total{" in response.text
    assert 'path="/api/search"' in response.text
