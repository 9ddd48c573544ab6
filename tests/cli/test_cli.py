"""The `enclave` command, run as a user runs it (a subprocess on a temporary data dir)."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from tests.conftest import SAMPLES


def run(args: list[str], data_dir: Path, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "ENCLAVE_DATA_DIR": str(data_dir), **env}
    return subprocess.run(
        [sys.executable, "-m", "cli.main", *args],
        capture_output=True,
        text=True,
        env=environment,
        timeout=300,
        check=False,
    )


def test_help_explains_the_commands(tmp_path: Path) -> None:
    result = run(["--help"], tmp_path)
    assert result.returncode == 0
    for command in ("ingest", "serve", "search", "ask", "db"):
        assert command in result.stdout


def test_ingest_json_then_search(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    shutil.copytree(SAMPLES, docs, ignore=shutil.ignore_patterns("*.py"))
    (docs / "broken.pdf").write_bytes(b"%PDF-1.4\nnot really a pdf")
    result = run(["ingest", str(docs), "--json"], tmp_path / "var")
    assert result.returncode == 1, result.stderr  # one file failed
    summary = json.loads(result.stdout)
    by_name = {Path(f["path"]).name: f for f in summary["files"]}
    assert by_name["broken.pdf"]["status"] == "failed" and by_name["broken.pdf"]["error"]
    assert by_name["employee-handbook.md"]["status"] == "added"
    assert summary["totals"]["added"] == 5 and summary["totals"]["failed"] == 1

    (docs / "broken.pdf").unlink()
    again = run(["ingest", str(docs), "--json"], tmp_path / "var")
    assert again.returncode == 0, again.stderr
    totals = json.loads(again.stdout)["totals"]
    assert totals["unchanged"] == 5 and totals["deleted"] == 1

    found = run(["search", "how many vacation days", "-k", "1"], tmp_path / "var")
    assert found.returncode == 0 and "Handbook" in found.stdout
    words = run(["search", "NWA-Guest wifi", "-k", "1", "--mode", "sparse"], tmp_path / "var")
    assert words.returncode == 0 and "WIFI AND PRINTING" in words.stdout, words.stdout


def test_serve_refuses_to_start_without_the_model(tmp_path: Path) -> None:
    result = run(["serve"], tmp_path, ENCLAVE_LLM_MODEL_PATH=str(tmp_path / "missing.gguf"))
    assert result.returncode == 2
    assert "missing.gguf" in result.stderr and "ENCLAVE_LLM_MODEL_PATH" in result.stderr
    assert "Traceback" not in result.stderr


def test_missing_path_is_reported(tmp_path: Path) -> None:
    result = run(["ingest", "/does/not/exist", "--json"], tmp_path)
    assert result.returncode == 2
    assert "No such file or folder: /does/not/exist" in result.stderr
    assert "Traceback" not in result.stderr
