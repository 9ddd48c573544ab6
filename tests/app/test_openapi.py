"""The OpenAPI document and its viewer (app/openapi.py): the refusals every protected route can
give are documented (401, 403, 429, 503) with the bodies the service really sends, and the
/schema page with every file it loads comes from Enclave itself, under the site's CSP.

Real parts: SQLite, the embedded store, the MiniLM embedder and llama.cpp with the tiny GGUF;
the app under TestClient, and under uvicorn for Debian's Chromium (the viewer must run)."""

import json
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

import jsonschema_rs
import pytest
from click.testing import CliRunner
from litestar.testing import TestClient

from app.main import create_app
from app.security.limits import CSP
from app.services import Services
from cli.main import main
from enclave.access.keys import create_key
from enclave.embedder import Embedder
from tests.conftest import make_settings, tiny_model_settings
from tests.support.apps import built_services
from tests.support.browsers import CHROMIUM, launch_chromium
from tests.support.serving import serving

LOOPBACK = {"127.0.0.1", "localhost", "::1", "[::1]"}


@pytest.fixture(scope="module")
def services(
    tmp_path_factory: pytest.TempPathFactory, tiny_gguf: Path, embedder: Embedder
) -> Iterator[Services]:
    tmp = tmp_path_factory.mktemp("openapi")
    settings = tiny_model_settings(tmp / "var", tiny_gguf, auth="on", llm_max_tokens=4)
    with built_services(settings, embedder) as built:
        yield built


@pytest.fixture(scope="module")
def client(services: Services) -> Iterator[TestClient[Any]]:
    with TestClient(create_app(services=services)) as test_client:
        yield test_client


@pytest.fixture(scope="module")
def schema(client: TestClient[Any]) -> dict[str, Any]:
    response = client.get("/schema/openapi.json")
    assert response.status_code == 200
    document: dict[str, Any] = response.json()
    return document


def responses(schema: dict[str, Any], method: str, path: str) -> dict[str, Any]:
    found: dict[str, Any] = schema["paths"][path][method]["responses"]
    return found


# --- the document --------------------------------------------------------------------------


def test_protected_routes_document_their_refusals(schema: dict[str, Any]) -> None:
    search = responses(schema, "get", "/api/search")  # requires("search")
    assert {"401", "403", "429"} <= search.keys()
    assert "503" not in search  # it does not generate
    assert "WWW-Authenticate" in search["401"]["headers"]
    assert "Retry-After" in search["429"]["headers"]
    assert search["401"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ErrorBody"
    }
    ask = responses(schema, "post", "/api/ask")
    assert {"401", "403", "429", "503"} <= ask.keys()
    assert "Retry-After" in ask["503"]["headers"]
    # Under /v1 the refusals have OpenAI's shape, like the rest of its errors.
    chat = responses(schema, "post", "/v1/chat/completions")
    assert {"401", "403", "429", "503"} <= chat.keys()
    assert chat["401"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ErrorResponse"
    }
    # No scope guard and a GET: nothing to forbid.
    models = responses(schema, "get", "/v1/models")
    assert {"401", "429"} <= models.keys() and "403" not in models
    # A route's own responses are kept.
    assert {"200", "400", "404"} <= responses(schema, "post", "/v1/chat/completions").keys()
    assert schema["paths"]["/api/search"]["get"]["security"] == [{"apiKey": []}]
    assert schema["components"]["securitySchemes"]["apiKey"]["scheme"] == "bearer"


def test_public_routes_claim_no_refusal(schema: dict[str, Any]) -> None:
    for path in ("/healthz", "/readyz"):
        operation = schema["paths"][path]["get"]
        assert not {"401", "403", "429"} & operation["responses"].keys(), path
        assert "security" not in operation
    assert "503" not in responses(schema, "get", "/healthz")
    assert "503" in responses(schema, "get", "/readyz")  # its own: a part is down
    assert not any(path.startswith(("/schema", "/static")) for path in schema["paths"])


def test_the_schema_is_also_served_as_yaml(client: TestClient[Any]) -> None:
    response = client.get("/schema/openapi.yaml")
    assert response.status_code == 200
    assert "/api/ask:" in response.text


# --- the bodies really sent ----------------------------------------------------------------


def check_body(schema: dict[str, Any], method: str, path: str, response: Any) -> None:
    """The reply matches the schema its status is documented with, header included."""
    documented = responses(schema, method, path)[str(response.status_code)]
    body_schema = {
        **documented["content"]["application/json"]["schema"],
        "components": schema["components"],
    }
    jsonschema_rs.validator_for(body_schema).validate(response.json())
    for header in documented.get("headers", {}):
        assert response.headers.get(header), (path, header)


def test_a_request_without_a_key_gets_the_documented_401(
    client: TestClient[Any], schema: dict[str, Any]
) -> None:
    for method, path, url in [
        ("get", "/api/search", "/api/search?q=holiday"),
        ("get", "/api/documents", "/api/documents"),
        ("get", "/v1/models", "/v1/models"),
    ]:
        response = client.request(method.upper(), url)
        assert response.status_code == 401, response.text
        check_body(schema, method, path, response)
    body = client.get("/api/search?q=holiday").json()
    assert body["status_code"] == 401 and "Bearer" in body["detail"]
    assert "Bearer" in client.get("/v1/models").json()["error"]["message"]


def test_a_key_without_the_scope_gets_the_documented_403(
    client: TestClient[Any], schema: dict[str, Any], services: Services
) -> None:
    token = create_key(services.database, "reader", ["eng"], ["search"]).token
    headers = {"Authorization": f"Bearer {token}"}
    response = client.get("/api/audit", headers=headers)
    assert response.status_code == 403, response.text
    check_body(schema, "get", "/api/audit", response)
    chat = {"model": "enclave", "messages": [{"role": "user", "content": "hi"}]}
    response = client.post("/v1/chat/completions", json=chat, headers=headers)
    assert response.status_code == 403, response.text
    check_body(schema, "post", "/v1/chat/completions", response)


def test_the_rate_limit_reply_matches_its_documentation(
    tmp_path: Path, tiny_gguf: Path, embedder: Embedder
) -> None:
    settings = tiny_model_settings(tmp_path / "var", tiny_gguf, auth="on", rate_limit_per_minute=1)
    with built_services(settings, embedder) as services:
        token = create_key(services.database, "busy", ["eng"], ["search"]).token
        headers = {"Authorization": f"Bearer {token}"}
        with TestClient(create_app(services=services)) as client:
            schema = client.get("/schema/openapi.json").json()
            assert client.get("/v1/models", headers=headers).status_code == 200
            limited = client.get("/v1/models", headers=headers)
            assert limited.status_code == 429, limited.text
            check_body(schema, "get", "/v1/models", limited)
            limited = client.get("/api/jobs", headers=headers)
            assert limited.status_code == 429, limited.text
            check_body(schema, "get", "/api/jobs", limited)


# --- the viewer ----------------------------------------------------------------------------


class Links(HTMLParser):
    """Every src and href in a page."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.found += [value for name, value in attrs if name in ("src", "href") and value]


def test_the_viewer_and_everything_it_loads_are_served_here(client: TestClient[Any]) -> None:
    for path in ("/schema", "/schema/swagger"):
        page = client.get(path)
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        assert page.headers["content-security-policy"] == CSP  # no exemption for /schema
        assert "<style" not in page.text and "style=" not in page.text
        links = Links()
        links.feed(page.text)
        assert len(links.found) >= 3, links.found  # the stylesheet, the bundle, our script
        for link in links.found:
            url = urlsplit(urljoin(f"http://127.0.0.1{path}", link))
            assert url.scheme == "http" and url.hostname in LOOPBACK, link
            asset = client.get(url.path)
            assert asset.status_code == 200, link
            if link.endswith(".js"):
                assert "javascript" in asset.headers["content-type"]  # nosniff needs it
        # The inline <script> the page has no room for: none, only files.
        assert page.text.count("<script") == page.text.count("<script src=")


def test_the_schema_endpoints_stay_public(tmp_path: Path) -> None:
    """No key, and no lifespan: the document and the viewer need nothing but the app."""
    client = TestClient(create_app(make_settings(tmp_path, auth="on")))
    for path in ("/schema", "/schema/openapi.json", "/schema/openapi.yaml"):
        assert client.get(path).status_code == 200, path


@pytest.mark.timeout(180)
@pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed")
def test_the_viewer_renders_in_a_browser_under_the_csp(services: Services) -> None:
    """Swagger UI runs with the strict CSP, asks no other host for anything, and shows the
    operations; a CSP violation or a script error fails the test."""
    requested: list[str] = []
    problems: list[str] = []
    # Its own Chromium: Playwright's event loop must not outlive the test (later tests here
    # call asyncio.run()).
    with serving(create_app(services=services)) as base_url, launch_chromium() as browser:
        page = browser.new_page()
        try:
            page.on("request", lambda request: requested.append(request.url))
            page.on("pageerror", lambda error: problems.append(str(error)))
            page.on(
                "console",
                lambda message: problems.append(message.text) if message.type == "error" else None,
            )
            page.goto(f"{base_url}/schema", wait_until="networkidle")
            page.get_by_text("/api/ask").first.wait_for(timeout=60_000)
            assert page.locator(".swagger-ui .opblock").count() >= 10
            assert page.get_by_role("button", name="Authorize").count() == 1
        finally:
            page.close()
    assert not problems, problems
    assert requested and all(urlsplit(u).hostname in LOOPBACK for u in requested), requested


def test_doctor_finds_the_docs_page_local(tmp_path: Path) -> None:
    """`enclave doctor` renders /schema and follows its links: all local, no warning."""
    env = {"ENCLAVE_DATA_DIR": str(tmp_path / "var")}
    result = CliRunner().invoke(main, ["doctor", "--json"], env=env)
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    docs = [d for d in report["destinations"] if d["what"].startswith("API docs page")]
    assert len(docs) == 1 and docs[0]["local"], docs
    assert not [w for w in report["warnings"] if "API docs" in w]


def test_readiness_fails_with_the_documented_503_when_the_store_is_gone(
    tmp_path: Path, tiny_gguf: Path, embedder: Embedder, schema: dict[str, Any]
) -> None:
    settings = tiny_model_settings(tmp_path / "var", tiny_gguf)
    with built_services(settings, embedder) as built:
        with TestClient(create_app(services=built)) as test_client:
            assert test_client.get("/readyz").status_code == 200
            built.store.close()  # the embedded engine shut: nothing to search

            response = test_client.get("/readyz")

        assert response.status_code == 503
        check_body(schema, "get", "/readyz", response)
        assert response.json()["extra"]["qdrant"].startswith("error")
        assert response.json()["extra"]["database"] == "ok"
