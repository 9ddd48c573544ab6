"""Helpers shared by the benchmarks: settings on a temporary data dir, percentiles, tables.

The scripts put the repository root first on `sys.path` and import `enclave` before this
module, so the libraries are in offline mode before anything heavy is imported.
"""

import datetime
import os
import platform
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from enclave.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "samples"


def bench_settings(data_dir: Path, **overrides: object) -> Settings:
    """The shipped defaults (SQLite, embedded Qdrant, MiniLM, SmolLM2) on `data_dir`, with no
    `.env` and no ENCLAVE_* variables: a benchmark must not pick up a developer's setup."""
    ignored = sorted(name for name in os.environ if name.startswith("ENCLAVE_"))
    for name in ignored:
        del os.environ[name]
    if ignored:
        print(f"note: ignoring {', '.join(ignored)} (benchmarks use the shipped defaults)")
    # auth off: the benchmarks call the app anonymously on 127.0.0.1.
    values: dict[str, object] = {
        "data_dir": data_dir,
        "_env_file": None,
        "auth": "off",
        **overrides,
    }
    return Settings(**values)  # type: ignore[arg-type]


def ingest_folder(worker: Any, folder: Path) -> dict[str, int]:
    """Index `folder` the way `enclave ingest` does when it holds the index: register it as a
    source, queue a sync job and run it on `worker` (`ingest.worker.sync_now`). Returns the
    job's totals per outcome plus "chunks"."""
    from ingest.worker import sync_now

    return dict(sync_now(worker, folder).totals())


def percentile(values: Sequence[float], q: float) -> float:
    """Linear interpolation between the closest ranks (numpy's default method)."""
    return float(np.percentile(np.asarray(values, dtype=float), q))


def table(headers: Sequence[str], rows: Sequence[Sequence[object]], align: str = "") -> str:
    """A plain-text table; `align` has an "l" or "r" per column (default: first column left,
    the others right)."""
    align = align or "l" + "r" * (len(headers) - 1)
    cells = [[str(h) for h in headers], *[[_cell(v) for v in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]

    def line(row: Sequence[str]) -> str:
        parts = [
            cell.ljust(width) if side == "l" else cell.rjust(width)
            for cell, width, side in zip(row, widths, align, strict=True)
        ]
        return " | ".join(parts).rstrip()

    rule = "-+-".join("-" * w for w in widths)
    return "\n".join([line(cells[0]), rule, *(line(row) for row in cells[1:])])


def _cell(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.3f}" if abs(value) < 10 else f"{value:,.1f}"
    return str(value)


def machine() -> str:
    """When and where the numbers were taken, for the header of every report."""
    import torch

    cores = os.cpu_count()
    now = datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    model = _cpu_model()
    return (
        f"{now} · {model} · {cores} CPU cores · Python {platform.python_version()}"
        f" · torch {torch.__version__} ({torch.get_num_threads()} threads)"
    )


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.machine()
