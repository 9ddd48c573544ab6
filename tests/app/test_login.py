"""Local users, the login page, session cookies and CSRF protection.

Real parts: SQLite and PostgreSQL (the users command and the sessions), the app under
Litestar's TestClient on SQLite with the embedded store, the MiniLM embedder and the tiny GGUF,
and two documents in different access groups (the groups of a signed-in user restrict what
they find)."""

import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from click.testing import CliRunner
from litestar.testing import TestClient
from sqlalchemy import select, text, update

from app.main import create_app
from app.security.sessions import COOKIE, LoginThrottle, Sessions, token_hash
from app.services import Services
from app.web.login import WRONG, safe_next
from cli.main import main
from enclave.access.keys import create_key
from enclave.access.users import create_user, disable_user, set_password, verify_password
from enclave.db import AuditEvent, Database, LoginSession
from enclave.db.migrate import upgrade
from enclave.db.models import utcnow
from enclave.embedder import Embedder
from enclave.secret_key import load_secret_key
from enclave.settings import Settings
from ingest.pipeline import Ingestor
from ingest.worker import Worker, sync_now
from tests.conftest import make_settings, tiny_model_settings
from tests.support.apps import built_services

PASSWORD = "correct horse battery staple"
HR_TEXT = "# Quokka Remuneration Ledger\n\nThe ZEBRA-7731 salary band pays 93,450 euros a year.\n"
ENG_TEXT = (
    "# Deployment runbook\n\nThe ZEBRA-7731 release train deploys to production on Tuesdays.\n"
)
LOGIN_TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')
META_TOKEN = re.compile(r'<meta name="csrf-token" content="([^"]+)">')
PAGE = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}  # what a browser sends


# --- the command line and the stored sessions, on SQLite and PostgreSQL ---------------------


def test_users_command_creates_lists_disables_and_changes_passwords(
    database_url: str, tmp_path: Path
) -> None:
    runner = CliRunner()
    env = {"ENCLAVE_DATA_DIR": str(tmp_path / "var"), "ENCLAVE_DATABASE_URL": database_url}

    def users(*args: str, password: str | None = None) -> Any:
        return runner.invoke(main, ["users", *args], input=password, env=env)

    created = users(
        "create", "Alice", "--groups", "eng,ops", "--scopes", "search,ask", "--password-stdin",
        password=PASSWORD + "\n",
    )  # fmt: skip
    assert created.exit_code == 0, created.output
    assert "Created user 'alice'" in created.output and PASSWORD not in created.output
    short = users("create", "bob", "--groups", "eng", "--password-stdin", password="short\n")
    assert short.exit_code == 2 and "at least 12 characters" in short.output
    again = users("create", "alice", "--groups", "eng", "--password-stdin", password=PASSWORD)
    assert again.exit_code == 2 and "exists already" in again.output
    bad = users("create", "eve", "--groups", "eng", "--scopes", "root", "--password-stdin",
                password=PASSWORD)  # fmt: skip
    assert bad.exit_code == 2 and "scopes must be some of" in bad.output

    listed = users("list", "--json")
    assert listed.exit_code == 0, listed.output
    assert '"name": "alice"' in listed.output and '"state": "active"' in listed.output
    assert '"ops"' in listed.output and PASSWORD not in listed.output

    database = Database(database_url)
    try:
        with database.engine.connect() as connection:
            row = connection.execute(text("SELECT * FROM users")).mappings().one()
        assert PASSWORD not in " ".join(str(v) for v in row.values())
        assert len(row["password_hash"]) == 64 and len(row["salt"]) == 32  # scrypt, hex
        assert verify_password(database, "ALICE", PASSWORD) is not None  # names ignore case
        assert verify_password(database, "alice", PASSWORD + "!") is None

        new = "another long enough password"
        changed = users("passwd", "alice", "--password-stdin", password=new + "\n")
        assert changed.exit_code == 0, changed.output
        assert verify_password(database, "alice", PASSWORD) is None
        assert verify_password(database, "alice", new) is not None

        disabled = users("disable", "alice")
        assert disabled.exit_code == 0, disabled.output
        assert '"state": "disabled"' in users("list", "--json").output
        assert verify_password(database, "alice", new) is None
        assert users("disable", "nobody").exit_code == 2
    finally:
        database.dispose()


@pytest.fixture
def user_db(database_url: str) -> Iterator[Database]:
    upgrade(database_url)
    database = Database(database_url)
    yield database
    database.dispose()


def test_sessions_end_on_logout_disable_expiry_and_password_change(
    user_db: Database, tmp_path: Path
) -> None:
    sessions = Sessions(user_db, load_secret_key(make_settings(tmp_path)), hours=1)
    user = create_user(user_db, "carol", PASSWORD, ["eng"], ["search"])

    token = sessions.start(user.id)
    cookie = sessions.cookie_value(token)
    assert sessions.token_of(cookie) == token
    principal = sessions.principal(token)
    assert principal is not None and principal.id == "user:carol" and principal.kind == "user"
    assert principal.groups == ("eng",) and principal.can("search") and not principal.can("ask")
    # Only a SHA-256 of the token is stored.
    with user_db.session() as session:
        stored = session.scalars(select(LoginSession)).one()
        assert stored.id == token_hash(token) and token not in stored.id
    # A forged or altered cookie fails its signature before any query.
    for forged in (
        token + ".0" * 32,
        token[:-1] + ("A" if token[-1] != "A" else "B") + cookie[len(token) :],
        cookie[:-1] + ("0" if cookie[-1] != "0" else "1"),
        "",
        "garbage",
    ):
        assert sessions.token_of(forged) is None, forged
    assert Sessions(user_db, b"another secret key!", 1).token_of(cookie) is None

    assert sessions.end(token) and sessions.principal(token) is None

    expiring = sessions.start(user.id)
    with user_db.session() as session:
        session.execute(
            update(LoginSession)
            .where(LoginSession.id == token_hash(expiring))
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
    assert sessions.principal(expiring) is None

    changing = sessions.start(user.id)
    set_password(user_db, "carol", "a brand new password")
    assert sessions.principal(changing) is None

    live = sessions.start(user.id)
    assert sessions.principal(live) is not None
    _, ended = disable_user(user_db, "carol")
    assert ended == 1 and sessions.principal(live) is None
    with pytest.raises(ValueError, match="at least 12"):
        create_user(user_db, "dave", "too short", ["eng"], ["search"])
    with pytest.raises(ValueError, match="user name"):
        create_user(user_db, "da ve", PASSWORD, ["eng"], ["search"])


def test_throttle_counts_failures_per_name_within_the_window() -> None:
    throttle = LoginThrottle(max_failures=2, window=60)
    assert throttle.retry_after("a") is None
    throttle.failed("a")
    assert throttle.retry_after("a") is None
    throttle.failed("a")
    wait = throttle.retry_after("a")
    assert wait is not None and 1 <= wait <= 61
    assert throttle.retry_after("b") is None  # per name
    throttle.succeeded("a")
    assert throttle.retry_after("a") is None
    gone = LoginThrottle(max_failures=1, window=0.0)
    gone.failed("a")
    assert gone.retry_after("a") is None  # outside the window


def test_next_is_a_local_path_only() -> None:
    for target in ("/", "/library?q=x", "/jobs/123"):
        assert safe_next(target) == target
    for target in (
        "", "https://evil.example/", "//evil.example", "/\\evil.example", "\\\\evil.example",
        "javascript:alert(1)", "evil.example", "/\tevil", "/login", "/logout",
    ):  # fmt: skip
        assert safe_next(target) == "/", target


# --- the login page and sessions over HTTP -------------------------------------------------


@dataclass(frozen=True)
class Site:
    services: Services
    settings: Settings
    hr_id: str
    eng_id: str
    key: dict[str, str]  # an API key holding every scope in "eng"


@pytest.fixture(scope="module")
def site(
    tmp_path_factory: pytest.TempPathFactory, tiny_gguf: Path, embedder: Embedder
) -> Iterator[Site]:
    tmp = tmp_path_factory.mktemp("login")
    settings: Settings = tiny_model_settings(
        tmp / "var",
        tiny_gguf,
        database_url=f"sqlite:///{tmp / 'enclave.db'}",
        auth="on",
        login_max_failures=3,
        embedded_worker=False,  # uploads are queued, not indexed
        llm_max_tokens=4,
    )
    upgrade(settings.database_url)
    database = Database.from_settings(settings)
    from enclave.vectorstore import open_store

    store = open_store(settings)
    ids: dict[str, str] = {}
    try:
        worker = Worker(database, Ingestor.from_settings(settings, database, store, embedder))
        for group, content in {"hr": HR_TEXT, "eng": ENG_TEXT}.items():
            folder = tmp / group
            folder.mkdir()
            (folder / f"{group}.md").write_text(content)
            report = sync_now(worker, folder, groups=[group], name=f"{group}-docs")
            assert not report.failed, report.as_json()
            document_id = report.files[0].document_id
            assert document_id is not None
            ids[group] = document_id
        for name, groups, scopes in [
            ("erin", ["eng"], ["search", "ask", "ingest"]),
            ("hank", ["hr"], ["search", "ask"]),
            ("tess", ["eng"], ["search"]),
        ]:
            create_user(database, name, PASSWORD, groups, scopes)
        token = create_key(database, "bot", ["eng"], ["search", "ask", "ingest", "admin"]).token
    finally:
        store.close()
        database.dispose()
    with built_services(settings, embedder) as services:
        yield Site(services, settings, ids["hr"], ids["eng"], {"Authorization": f"Bearer {token}"})


@pytest.fixture
def client(site: Site) -> Iterator[TestClient[Any]]:
    """A fresh browser: its own cookie jar and the app's own login throttle."""
    with TestClient(create_app(services=site.services)) as test_client:
        yield test_client


def sign_in(
    client: TestClient[Any], name: str, password: str = PASSWORD, next_path: str = "/", **kw: Any
) -> httpx.Response:
    form = client.get("/login", params={"next": next_path}, headers=PAGE)
    assert form.status_code == 200, form.text
    found = LOGIN_TOKEN.search(form.text)
    assert found is not None
    data = {"username": name, "password": password, "next": next_path, "csrf_token": found[1]}
    return client.post("/login", data=data, follow_redirects=False, **kw)


def csrf_of(client: TestClient[Any]) -> str:
    page = client.get("/library", headers=PAGE)
    assert page.status_code == 200, page.text
    found = META_TOKEN.search(page.text)
    assert found is not None, page.text[:500]
    return found[1]


def test_signing_in_sets_a_safe_cookie_and_pages_and_api_work_with_it(
    client: TestClient[Any], site: Site
) -> None:
    form = client.get("/login", headers=PAGE)
    assert form.status_code == 200
    for needed in ('<label for="login-username"', '<label for="login-password"', 'type="password"'):
        assert needed in form.text
    assert "<script>" not in form.text and "onclick" not in form.text  # the CSP forbids inline

    response = sign_in(client, "Erin", next_path="/library?q=runbook")
    assert response.status_code == 303, response.text
    assert response.headers["location"] == "/library?q=runbook"
    cookie = next(c for c in response.headers.get_list("set-cookie") if c.startswith(COOKIE))
    attributes = {part.strip().split("=")[0].lower() for part in cookie.split(";")}
    assert {"httponly", "path", "max-age"} <= attributes and "secure" not in attributes
    assert "samesite=lax" in cookie.lower()
    assert f"Max-Age={int(site.settings.session_hours * 3600)}" in cookie

    page = client.get("/library", headers=PAGE)
    assert page.status_code == 200
    assert "Signed in as <strong>erin</strong>" in page.text and 'action="/logout"' in page.text
    token = META_TOKEN.search(page.text)
    assert token is not None
    # Every POST form on the page carries the token.
    assert page.text.count('name="csrf_token" value="' + token[1]) == page.text.count(
        'method="post"'
    )
    assert client.get("/api/search", params={"q": "ZEBRA-7731"}).status_code == 200
    assert client.get("/api/documents").status_code == 200

    with TestClient(create_app(services=site.services)) as secure:
        over_https = sign_in(secure, "erin", headers={"X-Forwarded-Proto": "https"})
        assert over_https.status_code == 303
        assert "secure" in over_https.headers["set-cookie"].lower()


def test_wrong_credentials_get_one_generic_answer(client: TestClient[Any]) -> None:
    wrong_password = sign_in(client, "tess", "not the right password")
    unknown_user = sign_in(client, "nobody-here", PASSWORD)
    for response in (wrong_password, unknown_user):
        assert response.status_code == 401
        assert WRONG in response.text and COOKIE not in response.headers.get("set-cookie", "")
        assert "password is wrong" not in response.text and "no such user" not in response.text
    assert 'value="tess"' in wrong_password.text  # the name is kept, the password is not
    assert "not the right password" not in wrong_password.text
    assert client.get("/api/documents").status_code == 401


def test_without_credentials_browsers_go_to_the_login_page_and_api_clients_get_401(
    client: TestClient[Any],
) -> None:
    page = client.get("/library", params={"q": "x"}, headers=PAGE, follow_redirects=False)
    assert page.status_code == 303
    location = urlsplit(page.headers["location"])
    assert location.path == "/login" and parse_qs(location.query)["next"] == ["/library?q=x"]
    for path in ("/api/documents", "/v1/models"):
        api = client.get(path, headers=PAGE, follow_redirects=False)
        assert api.status_code == 401 and "Bearer" in api.text
    assert client.get("/library").status_code == 401  # a script (no text/html) is told why


def test_forged_or_tampered_cookies_are_refused(client: TestClient[Any], site: Site) -> None:
    assert sign_in(client, "erin").status_code == 303
    real = client.cookies[COOKIE]
    token, _, signature = real.partition(".")
    for forged in (
        token[:-1] + ("A" if token[-1] != "A" else "B") + "." + signature,
        token + "." + "0" * 64,
        "x" * 43 + "." + signature,
    ):
        client.cookies.set(COOKIE, forged)
        assert client.get("/api/documents").status_code == 401
        page = client.get("/", headers=PAGE, follow_redirects=False)
        assert page.status_code == 303 and page.headers["location"] == "/login"
        assert f"{COOKIE}=" in page.headers["set-cookie"]  # the bad cookie is dropped
    client.cookies.set(COOKIE, real)
    assert client.get("/api/documents").status_code == 200


def test_a_disabled_users_live_session_stops_working(
    client: TestClient[Any], site: Site, tiny_gguf: Path
) -> None:
    create_user(site.services.database, "leaver", PASSWORD, ["eng"], ["search"])
    assert sign_in(client, "leaver").status_code == 303
    assert client.get("/api/documents").status_code == 200
    disable_user(site.services.database, "leaver")
    assert client.get("/api/documents").status_code == 401
    assert sign_in(client, "leaver").status_code == 401  # and cannot sign in again


def test_an_expired_session_is_refused(client: TestClient[Any], site: Site) -> None:
    assert sign_in(client, "tess").status_code == 303
    assert client.get("/api/documents").status_code == 200
    token = client.cookies[COOKIE].partition(".")[0]
    with site.services.database.session() as session:
        session.execute(
            update(LoginSession)
            .where(LoginSession.id == token_hash(token))
            .values(expires_at=utcnow() - timedelta(minutes=1))
        )
    assert client.get("/api/documents").status_code == 401


def test_logout_ends_the_session_on_the_server(client: TestClient[Any]) -> None:
    assert sign_in(client, "erin").status_code == 303
    csrf = csrf_of(client)
    cookie = client.cookies[COOKIE]
    refused = client.post("/logout", follow_redirects=False)
    assert refused.status_code == 403  # a hostile page cannot sign people out
    assert client.get("/api/documents").status_code == 200
    out = client.post("/logout", data={"csrf_token": csrf}, follow_redirects=False)
    assert out.status_code == 303 and out.headers["location"] == "/login"
    assert f'{COOKIE}=""' in out.headers["set-cookie"] or "Max-Age=0" in out.headers["set-cookie"]
    client.cookies.set(COOKIE, cookie)  # the old cookie, replayed
    assert client.get("/api/documents").status_code == 401


def test_next_never_leaves_the_site(client: TestClient[Any]) -> None:
    for target in ("https://evil.example/", "//evil.example/x", "/\\evil.example"):
        response = sign_in(client, "tess", next_path=target)
        assert response.status_code == 303 and response.headers["location"] == "/", target


def test_state_changes_with_the_cookie_need_the_csrf_token(
    client: TestClient[Any], site: Site
) -> None:
    assert sign_in(client, "erin").status_code == 303
    csrf = csrf_of(client)
    feedback = {"question": "q", "answer": "a", "rating": 1}
    refused = client.post("/api/feedback", json=feedback)
    assert refused.status_code == 403 and "CSRF token" in refused.json()["detail"]
    wrong = client.post("/api/feedback", json=feedback, headers={"X-CSRF-Token": "0" * 64})
    assert wrong.status_code == 403
    stored = client.post("/api/feedback", json=feedback, headers={"X-CSRF-Token": csrf})
    assert stored.status_code == 201 and stored.json()["author"] == "erin"
    # Cross-site, even with the token: refused.
    cross = {"X-CSRF-Token": csrf, "Origin": "https://evil.example"}
    assert client.post("/api/feedback", json=feedback, headers=cross).status_code == 403
    fetched = {"X-CSRF-Token": csrf, "Sec-Fetch-Site": "cross-site", "Origin": "null"}
    assert client.post("/api/feedback", json=feedback, headers=fetched).status_code == 403
    # A same-origin form post says `Origin: null` (Referrer-Policy: no-referrer): the token decides.
    form_post = {"X-CSRF-Token": csrf, "Sec-Fetch-Site": "same-origin", "Origin": "null"}
    assert client.post("/api/feedback", json=feedback, headers=form_post).status_code == 201

    # Plain forms (the library's multipart upload without JavaScript): the csrf_token field.
    files = [("files", ("notes.md", b"# Notes\n\nPlain form upload.\n", "text/markdown"))]
    no_field = client.post("/library/upload", files=files, follow_redirects=False)
    assert no_field.status_code == 403
    uploaded = client.post(
        "/library/upload", files=files, data={"csrf_token": csrf}, follow_redirects=False
    )
    assert uploaded.status_code == 303 and uploaded.headers["location"].startswith("/jobs/")
    missing = f"/library/{'0' * 36}/delete"
    assert client.post(missing, follow_redirects=False).status_code == 403
    assert client.post(missing, data={"csrf_token": csrf}).status_code == 404  # past the check

    # An API key is no ambient credential: no token needed.
    with TestClient(create_app(services=site.services)) as bot:
        assert bot.post("/api/feedback", json=feedback, headers=site.key).status_code == 201


def test_the_login_form_itself_resists_csrf(client: TestClient[Any]) -> None:
    # A hostile page posting its own credentials (login CSRF) has no token for this browser.
    data = {"username": "tess", "password": PASSWORD, "next": "/"}
    plain = client.post("/login", data=data, follow_redirects=False)
    assert plain.status_code == 403 and COOKIE not in plain.headers.get("set-cookie", "")
    cross = sign_in(client, "tess", headers={"Origin": "https://evil.example"})
    assert cross.status_code == 403
    assert sign_in(client, "tess").status_code == 303


def test_repeated_failures_are_throttled_per_name(client: TestClient[Any], site: Site) -> None:
    create_user(site.services.database, "target", PASSWORD, ["eng"], ["search"])
    for _ in range(site.settings.login_max_failures):
        assert sign_in(client, "target", "guess number one!").status_code == 401
    refused = sign_in(client, "target", PASSWORD)  # even the right password, for now
    assert refused.status_code == 429
    assert 1 <= int(refused.headers["retry-after"]) <= 15 * 60 + 1
    assert "Too many failed sign-ins" in refused.text
    assert sign_in(client, "tess").status_code == 303  # another name is not affected


def test_a_users_groups_restrict_what_they_find(client: TestClient[Any], site: Site) -> None:
    query = {"q": "ZEBRA-7731", "k": 10}
    found = {}
    for name in ("erin", "hank"):
        client.cookies.clear()
        assert sign_in(client, name).status_code == 303
        response = client.get("/api/search", params=query)
        assert response.status_code == 200
        found[name] = {r["document_id"] for r in response.json()["results"]}
        page = client.get("/", params={"q": "ZEBRA-7731"}, headers=PAGE)
        assert page.status_code == 200
        found[name + "-page"] = {site.hr_id, site.eng_id} & set(
            re.findall(r"[0-9a-f-]{36}", page.text)
        )
    assert found["erin"] == {site.eng_id} and found["hank"] == {site.hr_id}
    assert found["erin-page"] == {site.eng_id} and found["hank-page"] == {site.hr_id}


def test_sign_ins_are_audited(client: TestClient[Any], site: Site) -> None:
    sign_in(client, "hank", "definitely wrong pw")
    assert sign_in(client, "hank").status_code == 303
    wanted = [("login", "user:hank", "hank", 303), ("login_failed", "-", "hank", 401)]
    deadline = time.monotonic() + 10  # events are stored as the reply ends
    while True:
        with site.services.database.session() as session:
            events = session.scalars(
                select(AuditEvent).where(AuditEvent.action.in_(["login", "login_failed"]))
            ).all()
            rows = [(e.action, e.actor, e.detail.get("username"), e.status) for e in events]
            details = " ".join(str(e.detail) for e in events)
        if all(w in rows for w in wanted) or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert all(w in rows for w in wanted), rows
    assert PASSWORD not in details and "definitely wrong pw" not in details
