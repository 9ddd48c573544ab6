"""`enclave doctor`: configuration with secrets masked, model file locations, and a warning
for every destination that is not on this machine."""

import json
from pathlib import Path

from click.testing import CliRunner

from cli.main import main


def run(tmp_path: Path, *args: str, **env: str) -> tuple[int, str]:
    base = {"ENCLAVE_DATA_DIR": str(tmp_path / "var")}
    result = CliRunner().invoke(main, ["doctor", *args], env={**base, **env})
    return result.exit_code, result.output


def test_local_configuration_has_no_service_warnings(tmp_path: Path) -> None:
    code, output = run(tmp_path, "--json")
    assert code == 0, output
    report = json.loads(output)
    assert report["configuration"]["host"] == "127.0.0.1"
    service = [d for d in report["destinations"] if "browser" not in d["what"]]
    assert service and all(d["local"] for d in service)
    assert {f["what"] for f in report["model_files"]} >= {"embedding model", "LLM (GGUF)"}
    llm = next(f for f in report["model_files"] if f["what"] == "LLM (GGUF)")
    assert llm["path"].endswith(".gguf") and llm["exists"]
    assert report["offline_switches"]["HF_HUB_OFFLINE"] == "1"


def test_remote_destinations_warn_and_secrets_are_masked(tmp_path: Path) -> None:
    env = {
        "ENCLAVE_QDRANT_URL": "http://10.1.2.3:6333",
        "ENCLAVE_QDRANT_API_KEY": "qdrant-topsecret",
        "ENCLAVE_DATABASE_URL": "postgresql+psycopg://u:pw-topsecret@db.corp:5432/enc",
        "ENCLAVE_HOST": "0.0.0.0",
    }
    code, output = run(tmp_path, **env)
    assert code == 0
    assert "topsecret" not in output
    assert "warning: Qdrant: http://10.1.2.3:6333 is not local" in output
    assert "warning: database: postgresql+psycopg://u:********@db.corp:5432/enc" in output
    assert "warning: listens on: 0.0.0.0:8000 is not local" in output
    strict, _ = run(tmp_path, "--strict", **env)
    assert strict == 1


def test_doctor_reports_the_llama_build_and_a_generation_check(tmp_path: Path) -> None:
    code, output = run(tmp_path, "--json")
    assert code == 0, output
    llama = json.loads(output)["llama_cpp"]
    assert llama["version"]
    assert "AVX" in llama["system_info"] or "NEON" in llama["system_info"]
    assert llama["generation_check"]["ok"], llama["generation_check"]
    assert not any("llama.cpp" in w for w in json.loads(output)["warnings"])


def test_doctor_warns_when_the_model_cannot_generate(tmp_path: Path) -> None:
    broken = tmp_path / "broken.gguf"
    broken.write_bytes(b"GGUF" + b"\x00" * 64)  # a header and nothing else: llama.cpp refuses
    code, output = run(tmp_path, "--json", ENCLAVE_LLM_MODEL_PATH=str(broken))
    assert code == 0, output
    report = json.loads(output)
    assert report["llama_cpp"]["generation_check"]["ok"] is False
    warning = next(w for w in report["warnings"] if w.startswith("llama.cpp:"))
    assert "exited with status" in warning and "LLAMA_CMAKE_ARGS" in warning
