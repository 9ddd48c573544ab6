"""Ingest throughput: our ingestion end to end vs a bare `SentenceTransformer.encode` of the
very same chunk texts, in the same run, with the time inside ours split by stage. Pages/s over
the PDFs of example-docs, and the whole example-docs corpus, are bench/ingest_corpus.py.

    .venv/bin/python bench/ingest.py [--folder samples/] [--repeat 6] [--rounds 2]
        [--batch-size 32] [--backend onnx-int8]

The folder is copied `--repeat` times into distinct subfolders of a temporary directory; each
copy's bytes are changed invisibly to the parsers (a PDF comment after %%EOF, a zip archive
comment, an HTML comment, trailing newlines), so content hashes differ (no copy is taken for a
duplicate) while every copy yields the same chunks. Each round ingests into a fresh temporary
data dir (SQLite + embedded Qdrant) with the real MiniLM embedder (`--backend`, default: the
shipped ENCLAVE_EMBEDDING_BACKEND), as `enclave ingest` does when it holds the index: the
folder is registered as a source and a sync job runs on a `Worker` with its own parse pool
(`ingest.worker.sync_now`).

The texts for the bare encode are the texts our pipeline passed to `Embedder.embed_documents`
in that run, recorded call by call, so they are the same by construction; the bare encode uses
the same model (backend) and model batch size as ours, and, when that is not torch, the torch
model's encode of the same texts is timed too, for reference. The split of our time is timed
around the calls the worker makes (waiting for the parser, chunk_document, embed_documents,
VectorStore.upsert) inside the same run (`bench._common.instrumented`).
"""

# The parse pool starts its workers from a fork server, and each new worker re-imports this
# file as its main module: only the standard library and `enclave` are imported at the top, so
# a worker starts as fast as it does under `enclave ingest`. The rest is imported where used.
from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
import zipfile
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

ROOT = Path(__file__).resolve().parent.parent
# `python bench/ingest.py` puts bench/ first on sys.path, where this file would shadow the
# `ingest` package: resolve imports from the repository root instead.
sys.path[:] = [str(ROOT), *(p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench")]

import enclave  # noqa: E402, F401  (first: switches the ML libraries to offline mode)

if TYPE_CHECKING:
    from enclave.embedder import Embedder

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
    """One round, ours and bare; also the `Recorder` that `instrumented` fills."""

    wall: dict[str, float] = field(default_factory=dict)  # seconds per measured stage
    inside: defaultdict[str, float] = field(default_factory=lambda: defaultdict(float))
    calls: list[list[str]] = field(default_factory=list)  # texts of each embed call in ours
    chunks: int = 0
    parser: str = ""  # how ours parsed
    model_batch: int = 0  # texts per model call
    warm_unchanged: int = 0

    def measure(self, stage: str, action: Callable[[], Any]) -> Any:
        started = time.perf_counter()
        result = action()
        self.wall[stage] = time.perf_counter() - started
        return result


def run_round(
    number: int,
    docs: Path,
    work: Path,
    embedder: Embedder,
    batch: int,
    texts: list[list[str]] | None,
    torch_model: Any = None,
) -> Round:
    """Ours then bare, or (when the texts are known from an earlier round) bare then ours."""
    from bench._common import bare_encode, bench_settings, ingest_folder, ingest_setup, instrumented

    result = Round(model_batch=embedder.model_batch_size)
    settings = bench_settings(
        work / f"var-{number}", embedding_batch_size=batch, embedding_backend=embedder.backend
    )
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
            model, size = embedder.model, embedder.model_batch_size
            flat = [text for call in calls for text in call]
            result.measure("bare", lambda: bare_encode(model, flat, size))
            result.measure("bare_calls", lambda: [bare_encode(model, c, size) for c in calls])
            if torch_model is not None:
                result.measure("bare_torch", lambda: bare_encode(torch_model, flat, batch))

        if texts is None:
            ours()
            bare(result.calls)
        else:
            bare(texts)
            ours()
    if sum(len(call) for call in result.calls) != result.chunks:
        raise SystemExit("the texts embedded do not add up to the chunks reported")
    return result


def texts_of(result: Round) -> list[str]:
    return sorted(text for call in result.calls for text in call)


def main() -> None:
    from bench._common import (
        SAMPLES,
        add_backend_option,
        bench_settings,
        load_average,
        load_span,
        warm_up,
    )
    from enclave.embedder import Embedder

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--folder", type=Path, default=SAMPLES, help="documents to copy")
    parser.add_argument("--repeat", type=int, default=6, help="copies of the folder (6)")
    parser.add_argument("--rounds", type=int, default=2, help="rounds (2)")
    parser.add_argument("--batch-size", type=int, default=32, help="encode batch size (32)")
    add_backend_option(parser)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="enclave-bench-ingest-") as tmp:
        work = Path(tmp)
        docs = work / "docs"
        files = make_copies(args.folder, docs, args.repeat)
        started = time.perf_counter()
        settings = bench_settings(work / "var-load", embedding_backend=args.backend)
        embedder = Embedder.from_settings(settings)
        load_seconds = time.perf_counter() - started
        torch_model = None
        if args.backend != "torch":  # the bare torch encode, for reference
            torch_model = Embedder.load(settings.embedding_model_path()).model
        pool_start = warm_up(args.folder, work, embedder)
        print(
            f"{len(files)} files ({args.repeat} × {args.folder}), embedder ({args.backend}) "
            f"loaded in {load_seconds:.1f} s; {args.rounds} rounds…",
            file=sys.stderr,
        )
        load_before = load_average()
        rounds: list[Round] = []
        for number in range(1, args.rounds + 1):
            # Round 1 runs ours first (it records the texts); later rounds alternate.
            texts = rounds[0].calls if rounds and number % 2 == 0 else None
            rounds.append(
                run_round(number, docs, work, embedder, args.batch_size, texts, torch_model)
            )
            # Files parsed ahead finish in any order, and how they are grouped into embedding
            # calls depends on timing: compare the texts.
            if texts_of(rounds[-1]) != texts_of(rounds[0]):
                raise SystemExit("our pipeline embedded other texts than in the first round")
            seconds = ", ".join(f"{k} {v:.2f}" for k, v in rounds[-1].wall.items())
            inside = ", ".join(f"{k} {v:.2f}" for k, v in rounds[-1].inside.items())
            print(f"round {number}: {seconds}; inside ours: {inside}", file=sys.stderr)
        load = load_span(load_before)
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
    rows: list[list[object]] = [
        row("ingest, ours (end to end)", wall("ingest"), "parse+chunk+embed+upsert+DB"),
        row(
            "bare encode (same texts)",
            wall("bare"),
            f"1 encode(), batch_size={rounds[0].model_batch}, as ours",
        ),
        row(
            "bare encode, ours' batches",
            wall("bare_calls"),
            f"{calls} encode() calls, as ours in round 1",
        ),
        *(
            [
                row(
                    "bare encode, torch backend",
                    wall("bare_torch"),
                    f"batch_size={args.batch_size}, for reference",
                )
            ]
            if "bare_torch" in rounds[0].wall
            else []
        ),
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
    print(f"\nbench/ingest.py — {machine()}; embedding backend {args.backend}")
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
    if "bare_torch" in rounds[0].wall:
        torch_bare = chunks / min(wall("bare_torch"))
        print(
            f"ours ({args.backend}) / bare torch encode chunks/s = {ours:.1f}/{torch_bare:.1f} "
            f"= {ours / torch_bare:.2f} (best)"
        )
    print(
        "bare texts = the texts ours passed to Embedder.embed_documents, recorded per call "
        f"({chunks} texts in {calls} calls in round 1; the same texts in every round)"
    )
    if pool_start is not None:
        print(
            f"not in the table: the first file through this process's first parse pool took "
            f"{pool_start:.2f} s (fork server start + parser preload, once per `enclave "
            "ingest` process; done in the untimed warm-up)"
        )


if __name__ == "__main__":
    main()
