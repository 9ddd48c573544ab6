"""Ingest throughput: our ingestion end to end vs a bare `SentenceTransformer.encode` of the
very same chunk texts, in the same run, with the time inside ours split by stage; then pages/s
over the PDFs of example-docs, and (`--example-docs`) the whole example-docs corpus.

    .venv/bin/python bench/ingest.py [--folder samples/] [--repeat 6] [--rounds 2]
        [--backend onnx-int8] [--pdfs ../shared/corpus/example-docs | --pdfs ''] [--example-docs]

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
VectorStore.upsert) inside the same run.

PDFs: the PDFs under `--pdfs` are copied to a folder of their own and ingested once the same
way; pages (pypdf) of the PDFs that yield chunks / wall time = pages/s. `--example-docs`
ingests the whole corpus once and prints its wall time and outcome (chunked, failed by reason).
Both run with the model loaded and the parse pool's fork server started (see the last line of
the first table for what that costs once per `enclave ingest` process).
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
from collections import Counter, defaultdict
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
EXAMPLE_DOCS = ROOT.parent / "shared" / "corpus" / "example-docs"


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
    model_batch: int = 0  # texts per model call
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
    torch_model: Any = None,
) -> Round:
    """Ours then bare, or (when the texts are known from an earlier round) bare then ours."""
    from bench._common import bench_settings, ingest_folder

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
            def encode(
                batch_texts: Sequence[str],
                model: Any = embedder.model,
                size: int = embedder.model_batch_size,
            ) -> Any:
                # What Embedder.embed_documents asks of the model, without our wrapper.
                return model.encode(
                    list(batch_texts),
                    batch_size=size,
                    normalize_embeddings=True,
                    convert_to_numpy=True,
                    show_progress_bar=False,
                )

            flat = [text for call in calls for text in call]
            result.measure("bare", lambda: encode(flat))
            result.measure("bare_calls", lambda: [encode(call) for call in calls])
            if torch_model is not None:
                result.measure("bare_torch", lambda: encode(flat, torch_model, batch))

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
    from enclave.settings import Settings

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--folder", type=Path, default=SAMPLES, help="documents to copy")
    parser.add_argument("--repeat", type=int, default=6, help="copies of the folder (6)")
    parser.add_argument("--rounds", type=int, default=2, help="rounds (2)")
    parser.add_argument("--batch-size", type=int, default=32, help="encode batch size (32)")
    parser.add_argument(
        "--backend",
        choices=["torch", "onnx", "onnx-int8"],
        default=Settings.model_fields["embedding_backend"].default,
        help="embedding backend (default: the shipped ENCLAVE_EMBEDDING_BACKEND default)",
    )
    parser.add_argument(
        "--pdfs",
        type=Path,
        default=EXAMPLE_DOCS,
        help="folder whose PDFs are ingested for pages/s (example-docs); --pdfs '' skips",
    )
    parser.add_argument(
        "--example-docs",
        action="store_true",
        help="also ingest the whole example-docs corpus: wall time and outcome by reason",
    )
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
        load_before = os.getloadavg()[0]
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
        load = f"{load_before:.2f} / {os.getloadavg()[0]:.2f}"
        shutil.rmtree(docs)
        pdfs = ingest_pdfs(args.pdfs, work, embedder) if str(args.pdfs) not in ("", ".") else None
        corpus = ingest_corpus(EXAMPLE_DOCS, work, embedder) if args.example_docs else None
    report(rounds, files, args, load, pool_start)
    if pdfs is not None:
        report_pdfs(pdfs)
    if corpus is not None:
        report_corpus(corpus)


@dataclass
class CorpusRun:
    folder: Path
    files: list[Any]  # ingest.pipeline.FileResult of each file and attachment
    wall: float
    inside: dict[str, float]
    load: str
    pages: dict[str, int | None] = field(default_factory=dict)  # PDF path -> pages


def ingest_once(folder: Path, work: Path, embedder: Embedder, label: str) -> CorpusRun:
    """One sync of `folder` into a fresh data dir, timed, with the stages split as above."""
    from bench._common import bench_settings
    from ingest.worker import sync_now

    settings = bench_settings(work / f"var-{label}", embedding_backend=embedder.backend)
    result = Round()
    before = os.getloadavg()[0]
    with ingest_setup(settings, embedder) as (worker, _), instrumented(worker, result):
        started = time.perf_counter()
        job = sync_now(worker, folder)
        wall = time.perf_counter() - started
    load = f"{before:.2f} / {os.getloadavg()[0]:.2f}"
    return CorpusRun(folder, job.files, wall, dict(result.inside), load)


def pdf_pages(path: Path) -> int | None:
    """Pages by pypdf (None when it cannot open the file: encrypted, broken)."""
    import pypdf

    try:
        reader = pypdf.PdfReader(path)
        if reader.is_encrypted and not reader.decrypt(""):
            return None
        return len(reader.pages)
    except Exception:
        return None


def ingest_pdfs(folder: Path, work: Path, embedder: Embedder) -> CorpusRun:
    """The PDFs under `folder`, copied into a folder of their own and ingested once."""
    target = work / "pdfs"
    sources = sorted(p for p in folder.rglob("*") if p.suffix.lower() == ".pdf" and p.is_file())
    if not sources:
        raise SystemExit(f"no PDFs under {folder}")
    for source in sources:
        copy = target / source.relative_to(folder)
        copy.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, copy)
    print(f"ingesting the {len(sources)} PDFs of {folder}…", file=sys.stderr)
    run = ingest_once(target, work, embedder, "pdfs")
    run.pages = {str(p): pdf_pages(p) for p in target.rglob("*.pdf")}
    return run


def ingest_corpus(folder: Path, work: Path, embedder: Embedder) -> CorpusRun:
    print(f"ingesting all of {folder}…", file=sys.stderr)
    return ingest_once(folder, work, embedder, "corpus")


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


def _reason(result: Any, folder: Path) -> str:
    """A failure's reason without the file's own path, so that like failures group."""
    reason = str(result.error or "?").replace(str(folder), "…")
    return reason if len(reason) <= 90 else reason[:89] + "…"


def _outcomes(run: CorpusRun) -> tuple[list[Any], list[Any], Counter[str], dict[str, str]]:
    files = [r for r in run.files if "#" not in r.path]  # attachments are "file#name"
    ok = [r for r in files if r.status.value in ("added", "updated") and r.chunks]
    failed = [r for r in run.files if r.status.value == "failed"]
    reasons: Counter[str] = Counter(_reason(r, run.folder) for r in failed)
    example = {_reason(r, run.folder): Path(r.path.split("#")[0]).name for r in failed}
    return files, ok, reasons, example


def report_pdfs(run: CorpusRun) -> None:
    from bench._common import table

    files, ok, reasons, example = _outcomes(run)
    chunked = {r.path for r in ok}
    pages_ok = sum(n or 0 for path, n in run.pages.items() if path in chunked)
    pages_all = sum(n or 0 for n in run.pages.values())
    parse = run.inside.get("parse_work", 0.0)
    rows: list[list[object]] = [
        ["PDFs ingested (end to end)", run.wall, pages_ok / run.wall, "pages of the chunked PDFs"],
        ["  in the parser (summed)", parse, pages_ok / parse if parse else None, "parse time"],
        ["  in ours: embed", run.inside.get("embed"), None, "Embedder.embed_documents"],
        ["  in ours: wait for parse", run.inside.get("parse_wait"), None, "blocked on parser"],
    ]
    chunks = sum(r.chunks for r in ok)
    print(
        f"\nPDFs of {run.folder}: {len(files)} files, {pages_all} pages (pypdf); "
        f"{len(ok)} chunked ({pages_ok} pages, {chunks} chunks), "
        f"{len(files) - len(ok)} not; load average before/after {run.load}\n"
    )
    print(table(["stage", "s", "pages/s", "notes"], rows, align="lrrl"))
    _print_reasons(reasons, example)


def report_corpus(run: CorpusRun) -> None:
    files, ok, reasons, example = _outcomes(run)
    attachments = [r for r in run.files if "#" in r.path]
    duplicates = [r for r in files if r.status.value in ("added", "updated") and not r.chunks]
    print(
        f"\nexample-docs ({run.folder}): {len(files)} files + {len(attachments)} attachments "
        f"ingested in {run.wall:.1f} s wall (load average before/after {run.load}; model "
        "loaded and parse pool warm beforehand)\n"
        f"  chunked: {len(ok)} files, {sum(r.chunks for r in run.files)} chunks; stored as "
        f"duplicates of another file: {len(duplicates)}; failed: "
        f"{sum(reasons.values())} (files and attachments)\n"
        "  inside: " + ", ".join(f"{k} {v:.1f} s" for k, v in run.inside.items())
    )
    _print_reasons(reasons, example)


def _print_reasons(reasons: Counter[str], example: dict[str, str]) -> None:
    from bench._common import table

    if reasons:
        rows = [[count, reason, example[reason]] for reason, count in reasons.most_common()]
        print("\nfailed, by reason:")
        print(table(["files", "reason", "e.g."], rows, align="rll"))


if __name__ == "__main__":
    main()
