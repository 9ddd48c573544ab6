"""The one-way dependency rule holds: `lint-imports` checks the contracts in pyproject.toml
(cli → app | ingest → enclave; the answer pipeline imports no HTTP, pages or access
control), so `make test` fails on an import that points up, not only `make lint`."""

import shutil
import subprocess
import sys
from pathlib import Path

from tests.support.paths import ROOT


def test_imports_follow_the_layers() -> None:
    lint = shutil.which("lint-imports", path=str(Path(sys.executable).parent))
    assert lint, "import-linter is not installed: make install"
    done = subprocess.run([lint], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert "0 broken" in done.stdout
