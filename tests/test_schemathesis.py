"""Schemathesis against the service's own OpenAPI schema, with a valid key: generated
requests to every operation get no server error (5xx) and replies that match the schema.

Real parts: uvicorn on loopback, SQLite, the Edge store, the MiniLM embedder and llama.cpp
with the tiny GGUF (a handful of tokens per answer). Bounded: a few examples per operation.
"""

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.core.failures import FailureGroup

from app.main import create_app
from app.security.keys import create_key
from app.services import Services
from enclave.db import Database
from enclave.db.migrate import upgrade
from enclave.embedder import Embedder
from tests.conftest import index_folder, tiny_model_settings
from tests.serving import serving

CHECKS = [
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
    content_type_conformance,
]


@pytest.fixture(scope="module")
def served(
    tmp_path_factory: pytest.TempPathFactory, tiny_gguf: Path, embedder: Embedder
) -> Iterator[tuple[str, dict[str, str]]]:
    tmp = tmp_path_factory.mktemp("schemathesis")
    config = tiny_model_settings(
        tmp / "var",
        tiny_gguf,
        database_url=f"sqlite:///{tmp / 'enclave.db'}",
        auth="on",
        llm_max_tokens=4,
        # Uploads are queued, not ingested: generated files would keep the CPU busy.
        embedded_worker=False,
        # Hundreds of requests from one key: the rate limit is tested in test_limits.py.
        rate_limit_per_minute=0,
    )
    folder = tmp / "docs"
    folder.mkdir()
    (folder / "a.md").write_text("# Holidays\n\nEmployees get 30 days of holiday a year.\n")
    index_folder(config, embedder, folder)
    upgrade(config.database_url)
    database = Database.from_settings(config)
    try:
        token = create_key(database, "fuzz", ["*"], ["admin"]).token
    finally:
        database.dispose()
    services = Services.build(config, embedder=embedder)
    try:
        with serving(create_app(services=services)) as url:
            yield url, {"Authorization": f"Bearer {token}"}
    finally:
        services.close()


def test_api_matches_its_schema(served: tuple[str, dict[str, str]]) -> None:
    """Every operation (none excluded), a few generated cases each; every failure is
    collected with its operation and reproduction, so one run lists all of them.
    (schemathesis' pytest plugin is not used: it fails on pytest 9, `Function._nodeid`.)"""
    url, headers = served
    schema = schemathesis.openapi.from_url(f"{url}/schema/openapi.json")
    failures: list[str] = []
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1

        @given(case=operation.as_strategy())
        @settings(
            max_examples=25,
            deadline=None,
            database=None,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        def run(case: Any) -> None:
            try:
                case.call_and_validate(headers=headers, checks=CHECKS)
            except (AssertionError, FailureGroup) as failure:
                found = getattr(failure, "exceptions", [failure])
                failures.extend(f"{case.operation.label}: {f!s:.600}" for f in found)

        run()
    assert operations >= 10
    assert not failures, "\n\n".join(dict.fromkeys(failures))
