"""Helpers shared by the benchmarks: settings on a temporary data dir, the shared data sets,
a bare encode, the machine's load, percentiles, tables; and the ingest harness (a worker on a
fresh data dir, its stages timed from outside) that bench/ingest.py and bench/ingest_corpus.py
share.

The scripts put the repository root first on `sys.path` and import `enclave` before this
module, so the libraries are in offline mode before anything heavy is imported.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import time
import types
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from enclave.settings import Settings

if TYPE_CHECKING:
    from enclave.db import Database
    from enclave.embedder import Embedder
    from ingest.pipeline import Ingestor
    from ingest.worker import Worker

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "samples"
CLAPNQ = ROOT.parent / "shared" / "eval" / "clapnq-dev"
EXAMPLE_DOCS = ROOT.parent / "shared" / "corpus" / "example-docs"


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


def add_backend_option(parser: argparse.ArgumentParser) -> None:
    """`--backend`: the embedding backend a bench loads the embedder with."""
    parser.add_argument(
        "--backend",
        choices=["torch", "onnx", "onnx-int8"],
        default=Settings.model_fields["embedding_backend"].default,
        help="embedding backend (default: the shipped ENCLAVE_EMBEDDING_BACKEND default)",
    )


def clapnq_records(folder: Path = CLAPNQ) -> Iterator[tuple[bool, dict[str, Any]]]:
    """Every record of ClapNQ dev, the answerable file first, each with whether it is
    answerable."""
    for name in ("clapnq_dev_answerable.jsonl", "clapnq_dev_unanswerable.jsonl"):
        for line in (folder / name).read_text(encoding="utf-8").splitlines():
            yield "unanswerable" not in name, json.loads(line)


def bare_encode(model: Any, texts: Sequence[str], batch_size: int) -> Any:
    """What Embedder.embed_documents asks of the model for one batch, without our wrapper."""
    return model.encode(
        list(texts),
        batch_size=batch_size,
        normalize_embeddings=True,
        convert_to_numpy=True,
        show_progress_bar=False,
    )


def load_average() -> float:
    """The 1-minute load average: the machine is shared, so every report prints it."""
    return os.getloadavg()[0]


def load_span(before: float) -> str:
    """The load average before a measurement (`before`) and now, after it."""
    return f"{before:.2f} / {load_average():.2f}"


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


# -- the ingest harness (bench/ingest.py, bench/ingest_corpus.py) ---------------------------


class Recorder(Protocol):
    """Where `instrumented` records what it sees inside our ingestion."""

    inside: defaultdict[str, float]  # seconds per stage
    calls: list[list[str]]  # texts of each embed call in ours


@dataclass
class Stages:
    """A `Recorder` and nothing more (bench/ingest.py's `Round` is one with more)."""

    inside: defaultdict[str, float] = field(default_factory=lambda: defaultdict(float))
    calls: list[list[str]] = field(default_factory=list)


@contextmanager
def instrumented(worker: Worker, result: Recorder) -> Iterator[None]:
    """Time the worker's stages and record what it embeds, by wrapping what it calls
    (restored afterwards). The wrappers add a clock read per call, nothing else."""
    import ingest.pipeline

    ingestor = worker.ingestor
    restore: list[tuple[object, str, object]] = []

    def wrap(owner: object, name: str, stage: str, record: bool = False) -> None:
        original = getattr(owner, name, None)
        if original is None:  # renamed in the pipeline: that stage is reported as "-"
            return

        def timed(*args: Any, **kwargs: Any) -> Any:
            if record:
                result.calls.append(list(args[0]))
            started = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                result.inside[stage] += time.perf_counter() - started

        restore.append((owner, name, original))
        setattr(owner, name, timed)

    def parsed(original: Callable[..., Iterator[Any]]) -> Callable[..., Iterator[Any]]:
        """The parser yields files as they are parsed: the parse time each reports (in the
        pool's processes, overlapping ours), and, where the worker iterates it itself, the
        time spent waiting for the next one."""

        def each(*args: Any, **kwargs: Any) -> Iterator[Any]:
            files = original(*args, **kwargs)
            while True:
                started = time.perf_counter()
                item = next(files, None)
                if read_ahead is None:
                    result.inside["parse_wait"] += time.perf_counter() - started
                if item is None:
                    return
                result.inside["parse_work"] += item.seconds
                yield item

        return each

    def waited(original: Callable[..., Any]) -> Callable[..., Any]:
        """The worker reads the parser from a thread of its own (`_ReadAhead`): the time it
        is blocked is the time in `next(wait=True)`."""

        def next_file(self: Any, wait: bool) -> Any:
            started = time.perf_counter()
            try:
                return original(self, wait)
            finally:
                if wait:
                    result.inside["parse_wait"] += time.perf_counter() - started

        return next_file

    import ingest.worker

    read_ahead = getattr(ingest.worker, "_ReadAhead", None)
    if read_ahead is not None:
        restore.append((read_ahead, "next", read_ahead.next))
        read_ahead.next = waited(read_ahead.next)
    parser = getattr(worker, "parser", None)
    if parser is not None:
        restore.append((parser, "map_unordered", parser.map_unordered))
        parser.map_unordered = parsed(parser.map_unordered)
    wrap(ingest.pipeline, "chunk_document", "chunk")
    wrap(ingestor.embedder, "embed_documents", "embed", record=True)
    wrap(ingestor.store, "upsert", "upsert")
    try:
        yield
    finally:
        for owner, name, original in reversed(restore):
            if isinstance(owner, types.ModuleType | type):
                setattr(owner, name, original)
            else:  # instance attributes: drop ours, the class method shows through again
                delattr(owner, name)


def open_parser(settings: Settings) -> tuple[Any, str]:
    """The parser `enclave ingest` gives its worker: the parse pool where the code has one
    (files parsed ahead in worker processes), else none (the worker parses in-process)."""
    import ingest.worker

    open_parse_pool = getattr(ingest.worker, "open_parse_pool", None)
    if open_parse_pool is None:
        return None, "files parsed in this process"
    pool = open_parse_pool(settings)
    return pool, f"files parsed ahead by a ParsePool of {pool.workers} process(es)"


def new_worker(database: Database, ingestor: Ingestor, parser: Any) -> Worker:
    from ingest.worker import Worker

    if parser is None:
        return Worker(database, ingestor)
    return Worker(database, ingestor, parser=parser)


@contextmanager
def ingest_setup(settings: Settings, embedder: Embedder) -> Iterator[tuple[Worker, str]]:
    """A fresh data dir with its database, store, ingestor and worker, closed afterwards."""
    from enclave.db import Database
    from enclave.db.migrate import upgrade
    from enclave.vectorstore import open_store
    from ingest.pipeline import Ingestor

    upgrade(settings.database_url)
    database = Database.from_settings(settings)
    store = open_store(settings)
    parser = None
    try:
        ingestor = Ingestor.from_settings(settings, database, store, embedder)
        parser, how = open_parser(settings)
        yield new_worker(database, ingestor, parser), how
    finally:
        if parser is not None:
            parser.close()
        store.close()
        database.dispose()


def warm_up(folder: Path, work: Path, embedder: Embedder) -> float | None:
    """Untimed: one ingest of `folder`, so the parsers, their resources and the model are
    loaded before any measured stage. Returns how long the first file took through the first
    parse pool of this process (its fork server starts and preloads the parsers: paid once per
    `enclave ingest` process), or None without a pool."""
    from ingest.discovery import discover

    settings = bench_settings(work / "var-warm-up")
    with ingest_setup(settings, embedder) as (worker, _):
        pool_start = None
        parser = getattr(worker, "parser", None)
        if parser is not None and hasattr(parser, "workers"):
            started = time.perf_counter()
            list(parser.map_unordered(discover([folder]).files[:1]))
            pool_start = time.perf_counter() - started
        ingest_folder(worker, folder)
    embedder.model.encode(["warm-up"] * 64, batch_size=32, show_progress_bar=False)
    return pool_start
