"""Settings come from ENCLAVE_* variables; defaults point at the shipped model files."""

from pathlib import Path

import pytest

from app.services import Services
from enclave.settings import ConfigurationError, Settings
from tests.conftest import make_settings


def test_defaults_are_the_embedded_setup(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    assert settings.database_url == f"sqlite:///{tmp_path.as_posix()}/enclave.db"
    assert settings.qdrant_path == tmp_path / "qdrant" and settings.uses_embedded_qdrant
    assert settings.embedding_model_path().joinpath("modules.json").is_file()
    assert settings.llm_path().name == "SmolLM2-135M-Instruct.Q4_1.gguf"
    assert settings.missing_files() == []


def test_environment_overrides(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("ENCLAVE_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("ENCLAVE_QDRANT_URL", "http://127.0.0.1:6333")
    monkeypatch.setenv("ENCLAVE_DATABASE_URL", "postgresql://enclave@127.0.0.1/enclave")
    monkeypatch.setenv("ENCLAVE_PORT", "9000")
    monkeypatch.setenv("ENCLAVE_DEFAULT_GROUPS", '["staff"]')
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert settings.qdrant_url == "http://127.0.0.1:6333" and settings.qdrant_path is None
    assert settings.database_url.startswith("postgresql://")
    assert settings.port == 9000 and settings.default_groups == ["staff"]


def test_invalid_value_is_rejected(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENCLAVE_PORT", "not-a-port")
    with pytest.raises(ValueError, match="port"):
        Settings(_env_file=None)  # type: ignore[call-arg]


def test_missing_model_file_refuses_to_start(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, llm_model_path=tmp_path / "nope.gguf")
    problems = settings.missing_files()
    assert len(problems) == 1 and "ENCLAVE_LLM_MODEL_PATH" in problems[0]
    with pytest.raises(ConfigurationError, match=r"nope\.gguf"):
        Services.build(settings)
