"""Ingest throughput: our ingestion end to end vs a bare `SentenceTransformer.encode` of the
very same chunk texts, in the same run, with the time inside ours split by stage.

    .venv/bin/python bench/ingest.py [--folder samples/] [--repeat 6] [--rounds 2]

The folder is copied `--repeat` times into distinct subfolders of a temporary directory; each
copy's bytes are changed invisibly to the parsers (a PDF comment after %%EOF, a zip archive
comment, an HTML comment, trailing newlines), so content hashes differ (no copy is taken for a
duplicate) while every copy yields the same chunks. Each round ingests into a fresh temporary
data dir (SQLite + embedded Qdrant) with the real MiniLM embedder, as `enclave ingest` does
when it holds the index: the folder is registered as a source and a sync job runs on a
`Worker` with its own parse pool (`ingest.worker.sync_now`).

The texts for the bare encode are the texts our pipeline passed to `Embedder.embed_documents`
in that run, recorded call by call, so they are the same by construction. The split of our
time is timed around the calls the worker makes (parser, chunk_document, embed_documents,
VectorStore.upsert) inside the same run.
"""

# The parse pool starts its workers from a fork server, and each new worker re-imports this
# file as its main module: only the standard library and `enclave` are imported at the top, so
# a worker starts as fast as it does under `enclave ingest`. The rest is imported where used.
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
import types
import zipfile
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

ROOT = Path(__file__).resolve().parent.parent
# `python bench/ingest.py` puts bench/ first on sys.path, where this file would shadow the
# `ingest` package: resolve imports from the repository root instead.
sys.path[:] = [str(ROOT), *(p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench")]

import enclave  # noqa: E402, F401  (first: switches the ML libraries to offline mode)

if TYPE_CHECKING:
    from enclave.db import Database
    from enclave.embedder import Embedder
    from enclave.settings import Settings
    from ingest.pipeline import Ingestor
    from ingest.worker import Worker

ZIP_SUFFIXES = {".docx", ".pptx", ".xlsx", ".odt", ".odp", ".ods", ".epub"}
MARKUP_SUFFIXES = {".html", ".htm", ".md", ".markdown", ".xml"}


def mark_copy(source: Path, target: Path, copy: int) -> None:
    """Copy `source` with a per-copy byte change that the parsers do not see as text."""
    suffix = source.suffix.lower()
    if suffix in ZIP_SUFFIXES:
        with zipfile.ZipFile(source) as zin, zipfile.ZipFile(target, "w") as zout:
            for item in zin.infolist():
                zout.writestr(item, zin.read(item.filename))
            zout.comment = f"enclave bench copy {copy}".encode()
    elif suffix == ".pdf":
        target.write_bytes(source.read_bytes() + f"\n% enclave bench copy {copy}\n".encode())
    elif suffix in MARKUP_SUFFIXES:
        target.write_bytes(source.read_bytes() + f"\n<!-- enclave bench copy {copy} -->\n".encode())
    else:  # plain text, CSV: trailing newlines are dropped by the partitioners
        target.write_bytes(source.read_bytes() + b"\n" * copy)


def make_copies(folder: Path, into: Path, repeat: int) -> list[Path]:
    from ingest.discovery import discover

    sources = discover([folder]).files
    if not sources:
        raise SystemExit(f"no supported documents under {folder}")
    base = folder.resolve()
    for copy in range(1, repeat + 1):
        for source in sources:
            target = into / f"copy-{copy:02d}" / source.relative_to(base)
            target.parent.mkdir(parents=True, exist_ok=True)
            mark_copy(source, target, copy)
    files = discover([into]).files
    if len({path.read_bytes() for path in files}) != len(files):
        raise SystemExit("the copies must differ in content")
    return files


@dataclass
class Round:
    wall: dict[str, float] = field(default_factory=dict)  # seconds per measured stage
    inside: defaultdict[str, float] = field(default_factory=lambda: defaultdict(float))
    calls: list[list[str]] = field(default_factory=list)  # texts of each embed call in ours
    chunks: int = 0
    parser: str = ""  # how ours parsed
    warm_unchanged: int = 0

    def measure(self, stage: str, action: Callable[[], Any]) -> Any:
        started = time.perf_counter()
        result = action()
        self.wall[stage] = time.perf_counter() - started
        return result


@contextmanager
def instrumented(worker: Worker, result: Round) -> Iterator[None]:
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
        """The parser yields files as they are parsed: time spent waiting for the next one,
        and the parse time each reports (in the pool's processes, overlapping ours)."""

        def each(*args: Any, **kwargs: Any) -> Iterator[Any]:
            files = original(*args, **kwargs)
            while True:
                started = time.perf_counter()
                item = next(files, None)
                result.inside["parse_wait"] += time.perf_counter() - started
                if item is None:
                    return
                result.inside["parse_work"] += item.seconds
                yield item

        return each

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
            if isinstance(owner, types.ModuleType):
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
    from enclave.vectorstore import VectorStore
    from ingest.pipeline import Ingestor

    upgrade(settings.database_url)
    database = Database.from_settings(settings)
    store = VectorStore.from_settings(settings)
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


def run_round(
    number: int,
    docs: Path,
    work: Path,
    embedder: Embedder,
    batch: int,
    texts: list[list[str]] | None,
) -> Round:
    """Ours then bare, or (when the texts are known from an earlier round) bare then ours."""
    from bench._common import bench_settings, ingest_folder

    result = Round()
    settings = bench_settings(work / f"var-{number}", embedding_batch_size=batch)
    with ingest_setup(settings, embedder) as (worker, result.parser):

        def ours() -> None:
            with instrumented(worker, result):
                totals = result.measure("ingest", lambda: ingest_folder(worker, docs))
            if totals["failed"] or not totals["chunks"]:
                raise SystemExit(f"ingest failed: {totals}")
            result.chunks = totals["chunks"]
            warm = result.measure("warm", lambda: ingest_folder(worker, docs))
            result.warm_unchanged = warm["unchanged"]

        def bare(calls: list[list[str]]) -> None:
            def encode(batch_texts: Sequence[str]) -> Any:
                # What Embedder.embed_documents asks of the model, without our wrapper.
                return embedder.model.encode(
                    list(batch_texts),
                    batch_size=batch,
                    normalize_embeddings=True,
                    convert_to_numpy=True,
                    show_progress_bar=False,
                )

            flat = [text for call in calls for text in call]
            result.measure("bare", lambda: encode(flat))
            result.measure("bare_calls", lambda: [encode(call) for call in calls])

        if texts is None:
            ours()
            bare(result.calls)
        else:
            bare(texts)
            ours()
    if sum(len(call) for call in result.calls) != result.chunks:
        raise SystemExit("the texts embedded do not add up to the chunks reported")
    return result


def warm_up(folder: Path, work: Path, embedder: Embedder) -> float | None:
    """Untimed: one ingest of the original folder, so the parsers, their resources and the
    model are loaded before any measured stage. Returns how long the first file took through
    the first parse pool of this process (its fork server starts and preloads the parsers:
    paid once per `enclave ingest` process), or None without a pool."""
    from bench._common import bench_settings, ingest_folder
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


def main() -> None:
    from bench._common import SAMPLES, bench_settings
    from enclave.embedder import Embedder

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--folder", type=Path, default=SAMPLES, help="documents to copy")
    parser.add_argument("--repeat", type=int, default=6, help="copies of the folder (6)")
    parser.add_argument("--rounds", type=int, default=2, help="rounds (2)")
    parser.add_argument("--batch-size", type=int, default=32, help="encode batch size (32)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="enclave-bench-ingest-") as tmp:
        work = Path(tmp)
        docs = work / "docs"
        files = make_copies(args.folder, docs, args.repeat)
        started = time.perf_counter()
        embedder = Embedder.from_settings(bench_settings(work / "var-load"))
        load_seconds = time.perf_counter() - started
        pool_start = warm_up(args.folder, work, embedder)
        print(
            f"{len(files)} files ({args.repeat} × {args.folder}), "
            f"model loaded in {load_seconds:.1f} s; {args.rounds} rounds…",
            file=sys.stderr,
        )
        load_before = os.getloadavg()[0]
        rounds: list[Round] = []
        for number in range(1, args.rounds + 1):
            # Round 1 runs ours first (it records the texts); later rounds alternate.
            texts = rounds[0].calls if rounds and number % 2 == 0 else None
            rounds.append(run_round(number, docs, work, embedder, args.batch_size, texts))
            # Files parsed ahead finish in any order: compare the calls, not their order.
            if sorted(rounds[-1].calls) != sorted(rounds[0].calls):
                raise SystemExit("our pipeline embedded other texts than in the first round")
            seconds = ", ".join(f"{k} {v:.2f}" for k, v in rounds[-1].wall.items())
            inside = ", ".join(f"{k} {v:.2f}" for k, v in rounds[-1].inside.items())
            print(f"round {number}: {seconds}; inside ours: {inside}", file=sys.stderr)
        load = f"{load_before:.2f} / {os.getloadavg()[0]:.2f}"
        shutil.rmtree(docs)
    report(rounds, files, args, load, pool_start)


def report(
    rounds: list[Round],
    files: list[Path],
    args: argparse.Namespace,
    load: str,
    pool_start: float | None,
) -> None:
    from bench._common import machine, table

    chunks = rounds[0].chunks
    if any(r.chunks != chunks for r in rounds):
        raise SystemExit("rounds made different numbers of chunks")
    calls = len(rounds[0].calls)

    def row(label: str, values: list[float] | None, note: str) -> list[object]:
        if not values:
            return [label, None, None, None, note]
        best = min(values)
        return [label, best, statistics.median(values), chunks / best if best else None, note]

    def wall(stage: str) -> list[float]:
        return [r.wall[stage] for r in rounds]

    def inside(stage: str) -> list[float] | None:
        values = [r.inside[stage] for r in rounds if stage in r.inside]
        return values if len(values) == len(rounds) else None

    critical = ("parse_wait", "chunk", "embed", "upsert")
    rest = [r.wall["ingest"] - sum(r.inside.get(s, 0.0) for s in critical) for r in rounds]
    work = inside("parse_work")
    rows = [
        row("ingest, ours (end to end)", wall("ingest"), "parse+chunk+embed+upsert+DB"),
        row("bare encode (same texts)", wall("bare"), f"1 encode(), batch_size={args.batch_size}"),
        row("bare encode, ours' batches", wall("bare_calls"), f"{calls} encode() calls, as ours"),
        row(
            "  in ours: wait for parse",
            inside("parse_wait"),
            "blocked on the parser"
            + (f" (parsing took {statistics.median(work):.2f} s, overlapped)" if work else ""),
        ),
        row("  in ours: chunk", inside("chunk"), "chunk_document"),
        row("  in ours: embed", inside("embed"), "Embedder.embed_documents"),
        row("  in ours: upsert", inside("upsert"), "VectorStore.upsert (embedded Qdrant)"),
        row("  in ours: rest", rest, "jobs, DB, hashing, discovery (ours − above four)"),
        [
            "warm ingest (unchanged)",
            min(wall("warm")),
            statistics.median(wall("warm")),
            None,
            f"{rounds[0].warm_unchanged}/{len(files)} files skipped",
        ],
    ]
    print(f"\nbench/ingest.py — {machine()}")
    print(f"load average (1 min) before/after the rounds: {load}")
    print(
        f"{len(files)} files = {args.repeat} × {args.folder}; {chunks} chunks; "
        f"{len(rounds)} round(s), best = fastest, chunks/s from best\n"
        "ours = ingest.worker.sync_now: register the folder as a source, queue a sync job, "
        "run it on a Worker (what `enclave ingest` does when it holds the index); "
        f"{rounds[0].parser}\n"
    )
    print(table(["stage", "best s", "median s", "chunks/s", "notes"], rows, align="lrrrl"))
    ours, bare = chunks / min(wall("ingest")), chunks / min(wall("bare"))
    median_ratio = statistics.median(wall("bare")) / statistics.median(wall("ingest"))
    print(
        f"\nours/bare chunks/s = {ours:.1f}/{bare:.1f} = {ours / bare:.2f} (best); "
        f"{median_ratio:.2f} (median)"
    )
    print(
        "bare texts = the texts ours passed to Embedder.embed_documents, recorded per call "
        f"({chunks} texts in {calls} calls; the same in every round)"
    )
    if pool_start is not None:
        print(
            f"not in the table: the first file through this process's first parse pool took "
            f"{pool_start:.2f} s (fork server start + parser preload, once per `enclave "
            "ingest` process; done in the untimed warm-up)"
        )


if __name__ == "__main__":
    main()
