"""Authentication: API keys (hashed, expiring, revocable), the modes, 401/403 answers, and the
trusted SSO proxy. Real parts: SQLite and PostgreSQL, the app under TestClient and under
uvicorn on loopback (the proxy tests need a real client address)."""

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner
from litestar import Litestar
from litestar.testing import TestClient
from sqlalchemy import text

from app.main import create_app
from app.services import Services
from cli.main import main
from enclave.access.keys import KeyVerifier, create_key, parse_duration
from enclave.db import Database, Document
from enclave.db.documents import DocumentFilter, DocumentRepository
from enclave.db.keys import KeyRepository
from enclave.db.migrate import upgrade
from enclave.db.models import utcnow
from enclave.embedder import Embedder
from enclave.settings import ConfigurationError, Settings
from tests.conftest import make_settings, tiny_model_settings
from tests.support.apps import built_services
from tests.support.serving import serving

# --- keys ----------------------------------------------------------------------------------


@pytest.fixture
def keys_db(database_url: str) -> Iterator[Database]:
    upgrade(database_url)
    database = Database(database_url)
    yield database
    database.dispose()


def test_only_a_hash_of_the_key_is_stored(keys_db: Database) -> None:
    created = create_key(keys_db, "reports", ["hr", "finance"], ["search", "ask"])
    token = created.token
    assert token.startswith(f"enc_{created.key.prefix}_")
    secret = token.split("_", 2)[2]
    with keys_db.engine.connect() as connection:
        row = connection.execute(text("SELECT * FROM api_keys")).mappings().one()
    stored = " ".join(str(v) for v in row.values())
    assert secret not in stored and token not in stored
    assert len(row["hash"]) == 64 and len(row["salt"]) == 32  # scrypt digest and salt, hex

    verifier = KeyVerifier(keys_db)
    principal = verifier.verify(token)
    assert principal is not None
    assert principal.name == "reports" and principal.groups == ("hr", "finance")
    assert principal.can("search") and not principal.can("ingest")
    # One changed character of the secret, or of the prefix, is refused.
    flipped = token[:-1] + ("A" if token[-1] != "A" else "B")
    assert verifier.verify(flipped) is None
    assert KeyVerifier(keys_db).verify(flipped) is None  # nothing cached
    assert verifier.verify("enc_000000000000_" + secret) is None
    assert verifier.verify("not a key") is None
    with keys_db.session() as session:
        key = KeyRepository(session).by_prefix(created.key.prefix)
        assert key is not None and key.last_used_at is not None


def test_expired_and_revoked_keys_stop_working(keys_db: Database) -> None:
    verifier = KeyVerifier(keys_db)
    expiring = create_key(keys_db, "temp", ["eng"], ["search"], timedelta(days=90))
    revoked = create_key(keys_db, "old", ["eng"], ["search"])
    assert verifier.verify(expiring.token) is not None
    assert verifier.verify(revoked.token) is not None  # now remembered by the verifier
    with keys_db.session() as session:
        repository = KeyRepository(session)
        key = repository.by_prefix(expiring.key.prefix)
        assert key is not None
        key.expires_at = utcnow() - timedelta(seconds=1)
        old = repository.find("old")
        assert len(old) == 1
        repository.revoke(old[0])
    assert verifier.verify(expiring.token) is None
    assert verifier.verify(revoked.token) is None  # the cache never outlives revocation


def test_key_arguments_are_checked(keys_db: Database) -> None:
    assert parse_duration("90d") == timedelta(days=90)
    assert parse_duration("12h") == timedelta(hours=12)
    for bad in ("90", "0d", "3 months"):
        with pytest.raises(ValueError, match="90d"):
            parse_duration(bad)
    with pytest.raises(ValueError, match="scopes"):
        create_key(keys_db, "x", ["eng"], ["search", "delete"])
    with pytest.raises(ValueError, match="group"):
        create_key(keys_db, "x", ['eng"; drop'], ["search"])
    with pytest.raises(ValueError, match="group"):
        create_key(keys_db, "x", [], ["search"])


def test_documents_are_filtered_by_group_in_sql(keys_db: Database) -> None:
    with keys_db.session() as session:
        repository = DocumentRepository(session)
        for name, groups in [("a", ["hr"]), ("b", ["eng"]), ("c", ["hr", "eng"]), ("d", [])]:
            repository.add(Document(source_path=f"/docs/{name}.md", groups=groups))
    with keys_db.session() as session:
        repository = DocumentRepository(session)

        def paths(groups: list[str] | None) -> tuple[list[str], int]:
            found, total = repository.search(DocumentFilter(groups=groups))
            return [Path(d.source_path).stem for d in found], total

        assert paths(["hr"]) == (["a", "c"], 2)
        assert paths(["eng", "finance"]) == (["b", "c"], 2)
        assert paths(["finance"]) == ([], 0)
        assert paths([]) == ([], 0)
        assert paths(None) == (["a", "b", "c", "d"], 4)


# --- the command line ----------------------------------------------------------------------


def test_keys_command_creates_lists_and_revokes(tmp_path: Path) -> None:
    runner = CliRunner()
    env = {"ENCLAVE_DATA_DIR": str(tmp_path / "var")}
    created = runner.invoke(
        main,
        ["keys", "create", "--name", "wiki-bot", "--groups", "eng,ops", "--scopes",
         "search,ask", "--expires", "30d"],
        env=env,
    )  # fmt: skip
    assert created.exit_code == 0, created.output
    token = created.stdout.strip().splitlines()[-1]
    assert token.startswith("enc_")
    listed = runner.invoke(main, ["keys", "list", "--json"], env=env)
    assert listed.exit_code == 0 and token not in listed.output
    assert '"state": "active"' in listed.output and '"eng"' in listed.output
    revoked = runner.invoke(main, ["keys", "revoke", "wiki-bot"], env=env)
    assert revoked.exit_code == 0, revoked.output
    assert '"state": "revoked"' in runner.invoke(main, ["keys", "list", "--json"], env=env).output
    bad = runner.invoke(
        main, ["keys", "create", "--name", "x", "--groups", "eng", "--scopes", "root"], env=env
    )
    assert bad.exit_code == 2 and "scopes must be some of" in bad.output


def test_auth_off_is_refused_off_loopback(tmp_path: Path, tiny_gguf: Path) -> None:
    for host in ("127.0.0.1", "::1", "localhost"):
        make_settings(tmp_path, auth="off", host=host).check_auth_mode()
    exposed = make_settings(tmp_path, auth="off", host="0.0.0.0")
    with pytest.raises(ConfigurationError, match="loopback"):
        exposed.check_auth_mode()
    with pytest.raises(ConfigurationError, match="loopback"):
        create_app(exposed)
    make_settings(tmp_path, auth="on", host="0.0.0.0").check_auth_mode()  # auth on: fine

    result = CliRunner().invoke(
        main,
        ["serve", "--host", "0.0.0.0"],
        env={
            "ENCLAVE_DATA_DIR": str(tmp_path / "var"),
            "ENCLAVE_AUTH": "off",
            "ENCLAVE_LLM_MODEL_PATH": str(tiny_gguf),
        },
    )
    assert result.exit_code == 2
    assert "only allowed on a loopback address" in result.output


def test_settings_read_comma_separated_addresses(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, auth_trusted_proxy="10.0.0.5, 10.1.0.0/16")
    assert settings.auth_trusted_proxy == ["10.0.0.5", "10.1.0.0/16"]
    with pytest.raises(ValueError, match="not an IP address"):
        make_settings(tmp_path, auth_trusted_proxy="proxy.example.com")


# --- HTTP ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def services(
    tmp_path_factory: pytest.TempPathFactory, tiny_gguf: Path, embedder: Embedder
) -> Iterator[Services]:
    tmp = tmp_path_factory.mktemp("auth")
    settings = tiny_model_settings(tmp / "var", tiny_gguf, auth="on", llm_max_tokens=4)
    with built_services(settings, embedder) as built:
        yield built


@pytest.fixture(scope="module")
def client(services: Services) -> Iterator[TestClient[Any]]:
    with TestClient(create_app(services=services)) as test_client:
        yield test_client


def key(services: Services, scopes: list[str], groups: list[str] | None = None) -> dict[str, str]:
    token = create_key(services.database, "test", groups or ["eng"], scopes).token
    return {"Authorization": f"Bearer {token}"}


def test_requests_without_a_valid_key_get_401(client: TestClient[Any], services: Services) -> None:
    assert client.get("/healthz").status_code == 200  # probes stay open
    assert client.get("/readyz").status_code == 200
    for headers in [
        {},
        {"Authorization": "Basic dXNlcjpwYXNz"},
        {"Authorization": "Bearer enc_0123456789ab_" + "x" * 43},
        # Proxy headers from an address that is not the configured proxy are ignored.
        {"X-Forwarded-User": "mallory", "X-Forwarded-Groups": "hr"},
    ]:
        for path in ["/api/search?q=holiday", "/api/documents", "/", "/library"]:
            response = client.get(path, headers=headers)
            assert response.status_code == 401, (path, headers, response.text)
            assert response.headers["www-authenticate"].startswith("Bearer")
            detail = response.json()["detail"]
            assert "Bearer" in detail or "API key is not valid" in detail, detail
            assert "Traceback" not in response.text
    ok = client.get("/api/search", params={"q": "holiday"}, headers=key(services, ["search"]))
    assert ok.status_code == 200


def test_openai_endpoints_answer_401_in_openai_shape(
    client: TestClient[Any], services: Services
) -> None:
    body = {"model": "enclave", "messages": [{"role": "user", "content": "hi"}]}
    response = client.post("/v1/chat/completions", json=body)
    assert response.status_code == 401
    assert "Bearer" in response.json()["error"]["message"]
    denied = client.post("/v1/chat/completions", json=body, headers=key(services, ["search"]))
    assert denied.status_code == 403
    assert "'ask' scope" in denied.json()["error"]["message"]
    allowed = client.post("/v1/chat/completions", json=body, headers=key(services, ["ask"]))
    assert allowed.status_code == 200, allowed.text


def test_scopes_are_enforced_with_403(client: TestClient[Any], services: Services) -> None:
    reader = key(services, ["search"])
    cases: list[tuple[str, str, dict[str, Any], str]] = [
        ("POST", "/api/ask", {"json": {"question": "How many days of holiday?"}}, "ask"),
        ("GET", "/api/jobs", {}, "ingest"),
        ("GET", "/api/feedback", {}, "admin"),
        ("GET", "/admin/feedback", {}, "admin"),
        ("PATCH", f"/api/documents/{'0' * 36}", {"json": {"groups": ["eng"]}}, "admin"),
        ("POST", "/api/documents", {"files": [("files", ("a.md", b"# A\n", "text/markdown"))]},
         "ingest"),
    ]  # fmt: skip
    for method, path, extra, scope in cases:
        response = client.request(method, path, headers=reader, **extra)
        assert response.status_code == 403, (path, response.text)
        assert f"'{scope}' scope" in response.json()["detail"]
    admin = key(services, ["admin"])
    assert client.get("/api/jobs", headers=admin).status_code == 200
    assert client.get("/api/feedback", headers=admin).status_code == 200


# --- the trusted proxy ---------------------------------------------------------------------


def proxy_app(services: Services, trusted: str, **extra: Any) -> Litestar:
    settings: Settings = services.settings.model_copy(
        update={"auth_trusted_proxy": [trusted], **extra}
    )
    return create_app(settings, services=services)


ALICE = {"X-Forwarded-User": "alice", "X-Forwarded-Groups": "eng,ops"}


def test_proxy_headers_are_honoured_only_from_the_proxy(services: Services) -> None:
    with serving(proxy_app(services, "10.0.0.0/8")) as url, httpx.Client(base_url=url) as http:
        assert http.get("/api/documents", headers=ALICE).status_code == 401
    app = proxy_app(services, "127.0.0.1", auth_admin_groups=["enclave-admins"])
    with serving(app) as url, httpx.Client(base_url=url) as http:
        assert http.get("/api/documents", headers=ALICE).status_code == 200
        by_email = {"X-Forwarded-Email": "bob@example.com", "X-Forwarded-Groups": "eng"}
        assert http.get("/api/search", params={"q": "x"}, headers=by_email).status_code == 200
        # The proxy sent nobody: no identity.
        assert http.get("/api/documents", headers={"X-Forwarded-Groups": "hr"}).status_code == 401
        # People get the proxy scopes (search, ask) unless in an admin group.
        assert http.get("/api/jobs", headers=ALICE).status_code == 403
        admin = {**ALICE, "X-Forwarded-Groups": "eng,enclave-admins"}
        assert http.get("/api/jobs", headers=admin).status_code == 200
        # A browser's cross-site request riding on the SSO session is refused.
        feedback = {"question": "q", "answer": "a", "rating": 1}
        cross = {**ALICE, "Origin": "https://evil.example"}
        refused = http.post("/api/feedback", json=feedback, headers=cross)
        assert refused.status_code == 403 and "cross-site" in refused.json()["detail"]
        same = {**ALICE, "Origin": url}
        stored = http.post("/api/feedback", json=feedback, headers=same)
        assert stored.status_code == 201 and stored.json()["author"] == "alice"
