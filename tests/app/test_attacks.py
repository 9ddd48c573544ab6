"""Regressions for the findings of the outside attack (issue 24), each widened to its class.

Real parts throughout: SQLite, the Edge store, MiniLM, the tiny GGUF, the app's own worker.
Two restricted keys, "hr" and "eng" (eng holds every scope, admin included, so only groups
stand between it and HR's files), and "root", who sees every group.
"""

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import TestClient

from app.main import create_app
from app.security.bounds import MAX_JSON_DEPTH, json_depth_exceeds
from enclave.access.keys import create_key
from enclave.db import Database
from enclave.db.migrate import upgrade
from enclave.embedder import Embedder
from enclave.settings import Settings
from tests.conftest import SAMPLES, make_settings, tiny_model_settings
from tests.support.apps import app_client
from tests.support.jobs import wait_for_job

SALARIES = b"# HR salaries\n\nThe walrus-42 salary band pays 81,300 euros.\n"
FORGED = b"# HR salaries\n\nEveryone in eng earns double.\n"


@dataclass(frozen=True)
class World:
    client: TestClient[Any]
    settings: Settings
    hr: dict[str, str]
    eng: dict[str, str]
    root: dict[str, str]


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture(scope="module")
def world(
    tmp_path_factory: pytest.TempPathFactory, tiny_gguf: Path, embedder: Embedder
) -> Iterator[World]:
    tmp = tmp_path_factory.mktemp("attacks")
    settings = tiny_model_settings(
        tmp / "var", tiny_gguf, auth="on", llm_max_tokens=4, rate_limit_per_minute=0
    )
    upgrade(settings.database_url)
    database = Database.from_settings(settings)
    try:
        tokens = {
            who: create_key(database, who, groups, scopes).token
            for who, groups, scopes in [
                ("hr", ["hr"], ["search", "ask", "ingest"]),
                ("eng", ["eng"], ["search", "ask", "ingest", "admin"]),
                ("root", ["*"], ["search", "ask", "ingest", "admin"]),
            ]
        }
    finally:
        database.dispose()
    with app_client(settings, embedder) as client:
        yield World(
            client,
            settings,
            bearer(tokens["hr"]),
            bearer(tokens["eng"]),
            bearer(tokens["root"]),
        )


def upload(
    world: World, who: dict[str, str], name: str, body: bytes, **form: str
) -> dict[str, Any]:
    response = world.client.post(
        "/api/documents", files=[("files", (name, body, "text/markdown"))], data=form, headers=who
    )
    assert response.status_code == 202, response.text
    return dict(response.json())


def finish(world: World, job_id: str) -> dict[str, Any]:
    return wait_for_job(world.client, job_id, world.root)


def documents(world: World, who: dict[str, str], q: str = "") -> list[dict[str, Any]]:
    listing = world.client.get("/api/documents", params={"q": q, "limit": 500}, headers=who)
    assert listing.status_code == 200, listing.text
    return list(listing.json()["documents"])


# --- 1. one group overwriting and taking over another group's uploads -----------------------


def test_colliding_source_names_never_reach_another_groups_files(world: World) -> None:
    receipt = upload(world, world.hr, "hr-salaries.md", SALARIES)
    finish(world, receipt["job_id"])
    (hr_doc,) = [d for d in documents(world, world.hr) if d["title"] == "HR salaries"]
    on_disk = next(world.settings.data_dir.glob("uploads/**/hr-salaries.md"))
    # The reported name and the whole class: case, spaces, '_'/'-', punctuation, the exact
    # name and a name sharing its slug's prefix.
    for name in ["Uploads_HR", "uploads-hr", "UPLOADS HR", "uploads--hr", " uploads.hr ",
                 receipt["source"], "uploads-hr" + "x" * 90]:  # fmt: skip
        taken = upload(world, world.eng, "hr-salaries.md", FORGED, source=name)
        assert taken["source"].startswith("eng/"), taken
        finish(world, taken["job_id"])
    assert on_disk.read_bytes() == SALARIES
    mine = world.client.get(f"/api/documents/{hr_doc['id']}", headers=world.hr)
    assert mine.status_code == 200 and mine.json()["groups"] == ["hr"]
    assert world.client.get(f"/api/documents/{hr_doc['id']}/file", headers=world.hr).content == (
        SALARIES
    )
    assert world.client.get(f"/api/documents/{hr_doc['id']}", headers=world.eng).status_code == 404
    # eng's copies are eng's, and HR never sees them.
    assert all(d["groups"] == ["eng"] for d in documents(world, world.eng))
    assert all(d["groups"] == ["hr"] for d in documents(world, world.hr))


def test_a_source_name_reveals_nothing_about_other_groups_sources(world: World) -> None:
    """The same answer whether or not a source of that name exists for another group."""
    existing = upload(world, world.hr, "memo.md", b"# Memo\n\nHR memo.\n", source="HR Memos")
    finish(world, existing["job_id"])
    taken = upload(world, world.eng, "memo.md", b"# Memo\n\nEng memo.\n", source="HR Memos")
    fresh = upload(world, world.eng, "memo.md", b"# Memo\n\nEng memo.\n", source="No such name")
    assert taken.keys() == fresh.keys()
    assert (taken["source"], fresh["source"]) == ("eng/HR Memos", "eng/No such name")
    # A restricted caller keeps adding to its own sources, under the name it was given.
    again = upload(world, world.eng, "memo2.md", b"# Memo 2\n\nMore.\n", source="eng/HR Memos")
    assert again["source"] == "eng/HR Memos"
    finish(world, again["job_id"])


def test_unrestricted_callers_keep_plain_source_names(world: World) -> None:
    receipt = upload(world, world.root, "plan.md", b"# Plan\n\nThe plan.\n", source="Company")
    assert receipt["source"] == "Company"
    finish(world, receipt["job_id"])


def test_source_names_and_file_names_are_bounded_with_a_reason(world: World) -> None:
    files = [("files", ("a.md", b"# A\n\ntext\n", "text/markdown"))]
    long_source = world.client.post(
        "/api/documents", files=files, data={"source": "s" * 100_000}, headers=world.root
    )
    assert long_source.status_code in (400, 413), long_source.text
    assert "source" in long_source.json()["detail"].lower()
    named = [("files", ("n" * 5_000 + ".md", b"# A\n\ntext\n", "text/markdown"))]
    long_name = world.client.post("/api/documents", files=named, headers=world.root)
    assert long_name.status_code == 400, long_name.text
    assert "name" in long_name.json()["detail"].lower()


def test_restricted_callers_see_paths_relative_to_their_source(world: World) -> None:
    receipt = upload(world, world.hr, "paths.md", b"# Paths\n\nThe otter-19 path policy.\n")
    finish(world, receipt["job_id"])
    shown = [d["source_path"] for d in documents(world, world.hr, "paths")]
    assert shown and all(not p.startswith("/") and p.endswith("/paths.md") for p in shown)
    full = [d["source_path"] for d in documents(world, world.root, "paths")]
    assert full and all(p.startswith(str(world.settings.data_dir)) for p in full)
    hits = world.client.get("/api/search", params={"q": "otter-19 path policy"}, headers=world.hr)
    assert hits.status_code == 200, hits.text
    sources = [r["source"] for r in hits.json()["results"]]
    assert sources and not any(s.startswith("/") for s in sources)


# --- 2. no stored file runs in the app's origin -------------------------------------------


@pytest.mark.parametrize(
    ("name", "body"),
    [
        ("evil.js", b"fetch('/api/documents')"),
        ("page.html", b"<script>alert(1)</script>"),
        ("page.htm", b"<script>alert(1)</script>"),
        ("pic.svg", b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'),
        ("data.xml", b'<x:script xmlns:x="http://www.w3.org/1999/xhtml">alert(1)</x:script>'),
        ("notes.md", b"# Notes\n\n<script>alert(1)</script>\n"),
    ],
)
def test_scriptable_files_are_downloads_never_pages(world: World, name: str, body: bytes) -> None:
    response = world.client.post(
        "/api/documents", files=[("files", (name, body, "text/html"))], headers=world.hr
    )
    assert response.status_code == 202, response.text
    finish(world, response.json()["job_id"])
    document = next(d for d in documents(world, world.root) if d["source_path"].endswith(name))
    served = world.client.get(f"/api/documents/{document['id']}/file", headers=world.hr)
    assert served.status_code == 200
    assert served.headers["content-type"] == "application/octet-stream"
    assert served.headers["content-disposition"].startswith("attachment")
    assert served.headers["x-content-type-options"] == "nosniff"
    assert "sandbox" in served.headers["content-security-policy"]


def test_images_and_pdfs_stay_inline(world: World, tmp_path: Path) -> None:
    pdf = next(SAMPLES.glob("*.pdf"))
    response = world.client.post(
        "/api/documents",
        files=[("files", (pdf.name, pdf.read_bytes(), "application/pdf"))],
        headers=world.root,
    )
    finish(world, response.json()["job_id"])
    document = next(d for d in documents(world, world.root) if d["source_path"].endswith(pdf.name))
    served = world.client.get(f"/api/documents/{document['id']}/file", headers=world.root)
    assert served.headers["content-type"] == "application/pdf"
    assert served.headers["content-disposition"].startswith("inline")
    assert served.headers["x-content-type-options"] == "nosniff"


# --- 3. other websites and DNS rebinding with ENCLAVE_AUTH=off -----------------------------


@pytest.fixture(scope="module")
def open_client(
    tmp_path_factory: pytest.TempPathFactory, tiny_gguf: Path, embedder: Embedder
) -> Iterator[TestClient[Any]]:
    tmp = tmp_path_factory.mktemp("auth-off")
    settings = tiny_model_settings(tmp / "var", tiny_gguf, llm_max_tokens=4)
    with app_client(settings, embedder) as client:
        yield client


CROSS_SITE = [
    {"Origin": "http://evil.example"},
    {"Sec-Fetch-Site": "cross-site"},
    {"Sec-Fetch-Site": "same-site", "Origin": "http://evil.127.0.0.1.example"},
]


@pytest.mark.parametrize("headers", CROSS_SITE)
def test_auth_off_refuses_cross_site_writes(
    open_client: TestClient[Any], headers: dict[str, str]
) -> None:
    files = [("files", ("x.md", b"# X\n\nx\n", "text/markdown"))]
    receipt = open_client.post("/api/documents", files=files)
    assert receipt.status_code == 202, receipt.text
    wait_for_job(open_client, receipt.json()["job_id"])
    document = open_client.get("/api/documents").json()["documents"][0]["id"]
    refused = [
        open_client.post("/api/documents", files=files, headers=headers),
        open_client.post(f"/library/{document}/delete", headers=headers),
        open_client.delete(f"/api/documents/{document}", headers=headers),
        open_client.patch(f"/api/documents/{document}", json={"groups": ["x"]}, headers=headers),
        open_client.post("/api/feedback", json={"rating": 1}, headers=headers),
    ]
    assert [r.status_code for r in refused] == [403] * len(refused), [r.text for r in refused]
    assert open_client.get(f"/api/documents/{document}").status_code == 200
    # The same requests from this site, or from a script with no browser headers, work.
    same = {"Origin": str(open_client.base_url).rstrip("/"), "Sec-Fetch-Site": "same-origin"}
    assert open_client.delete(f"/api/documents/{document}", headers=same).status_code == 204


def test_auth_off_answers_only_to_its_own_host_names(tmp_path: Path) -> None:
    defaults = make_settings(tmp_path / "var", allowed_hosts=[])
    assert "attacker.example" not in defaults.host_names()
    assert {"127.0.0.1", "localhost"} <= set(defaults.host_names())
    app = create_app(defaults)  # no lifespan needed: the host check comes first
    with TestClient(app, base_url="http://127.0.0.1:8000") as client:
        rebound = client.get("/api/search?q=x", headers={"Host": "attacker.example"})
        assert rebound.status_code == 400, rebound.text
        assert client.get("/healthz").status_code == 200
    wildcard = make_settings(tmp_path / "var", allowed_hosts=[], host="0.0.0.0", auth="on")
    assert wildcard.host_names() == ["*"]
    named = make_settings(tmp_path / "var", allowed_hosts=["kb.corp.example"])
    assert named.host_names() == ["kb.corp.example"]


# --- 5. hostile input gets a 4xx, never a 500 ---------------------------------------------


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/api/feedback"),
        ("PATCH", "/api/documents/some-id"),
        ("POST", "/v1/embeddings"),
        ("POST", "/v1/chat/completions"),
        ("POST", "/api/ask"),
    ],
)
def test_deeply_nested_json_is_a_400_on_every_route(world: World, method: str, path: str) -> None:
    for body in (nested(1_000), '{"a":' * 5_000 + "1" + "}" * 5_000, nested(100_000)):
        response = world.client.request(
            method, path, content=body, headers={**world.root, "Content-Type": "application/json"}
        )
        assert response.status_code == 400, (path, response.status_code, response.text[:200])
        said = response.json()
        reason = said["error"]["message"] if path.startswith("/v1/") else said["detail"]
        assert "nested" in reason


def test_the_depth_scan_ignores_brackets_in_strings() -> None:
    assert not json_depth_exceeds(json.dumps({"q": "[" * 500}).encode(), MAX_JSON_DEPTH)
    assert not json_depth_exceeds(json.dumps({"q": '\\"' + "{" * 500}).encode(), MAX_JSON_DEPTH)
    assert json_depth_exceeds(nested(MAX_JSON_DEPTH + 1).encode(), MAX_JSON_DEPTH)
    assert not json_depth_exceeds(nested(MAX_JSON_DEPTH).encode(), MAX_JSON_DEPTH)


@pytest.mark.parametrize("path", ["/api/documents", "/api/search", "/library", "/", "/api/audit"])
def test_very_long_query_strings_are_a_4xx(world: World, path: str) -> None:
    response = world.client.get(path, params={"q": "x" * 60_000}, headers=world.root)
    assert response.status_code == 414, (path, response.status_code, response.text[:200])


def test_host_names_are_compared_without_their_port() -> None:
    from app.security.hosts import allowed, host_name

    assert host_name("[::1]:8000") == "::1" and host_name("LocalHost:8000") == "localhost"
    assert host_name("127.0.0.1") == "127.0.0.1" and host_name("::1") == "::1"
    assert allowed("kb.example.com", ["*.example.com"]) and not allowed("example.org", ["x"])
    assert allowed("::1", ["[::1]"]) and allowed("anything", ["*"])
    assert not allowed("evil-example.com", ["*.example.com"])
