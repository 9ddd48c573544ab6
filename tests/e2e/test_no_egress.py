"""Data never leaves: the whole path (parse, embed, index, search, answer) runs with zero
outbound connections or DNS lookups. The guard is installed for the entire test session
before any library is imported (conftest.py), so it also covers import-time telemetry."""

import asyncio
import socket
from pathlib import Path

import pytest

from enclave.embedder import Embedder
from enclave.offline import OFFLINE_ENVIRONMENT
from tests.conftest import SAMPLES, index_folder, tiny_model_settings
from tests.support.apps import built_services
from tests.support.egress_guard import EgressBlocked, EgressGuard


def test_guard_refuses_and_records_outbound_attempts(egress_guard: EgressGuard) -> None:
    assert socket.socket.connect is not egress_guard._originals["connect"]  # installed
    before = len(egress_guard.attempts)
    with pytest.raises(socket.gaierror):
        socket.getaddrinfo("telemetry.example.invalid", 443)
    # The patched connect refuses before any packet is sent (TEST-NET-3 address).
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock, pytest.raises(EgressBlocked):
        sock.connect(("203.0.113.7", 443))
    assert len(egress_guard.attempts) == before + 2
    del egress_guard.attempts[before:]
    socket.getaddrinfo("localhost", 80)  # loopback stays allowed


def test_offline_switches_are_set() -> None:
    import os

    for name, value in OFFLINE_ENVIRONMENT.items():
        assert os.environ[name] == value


def test_ingest_search_and_ask_make_no_outbound_connection(
    tmp_path: Path, embedder: Embedder, tiny_gguf: Path, egress_guard: EgressGuard
) -> None:
    settings = tiny_model_settings(tmp_path / "var", tiny_gguf, llm_max_tokens=16)
    report = index_folder(settings, embedder, SAMPLES)
    assert report.totals()["chunks"] > 0 and not report.failed

    with built_services(settings, embedder) as services:

        async def ask() -> str:
            with services.generator.admit():
                answer = await services.answers.ask("How many vacation days do we get?", 3)
            return answer.answer

        assert asyncio.run(services.answers.search("password rules", 3))
        assert isinstance(asyncio.run(ask()), str)
    # Nothing in this test — nor in any test that ran before it — tried to reach another host.
    assert egress_guard.attempts == []
