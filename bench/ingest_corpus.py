"""Ingest over real documents: pages/s over the PDFs of example-docs, and (`--example-docs`)
the whole example-docs corpus, each ingested once the way bench/ingest.py's rounds ingest.

    .venv/bin/python bench/ingest_corpus.py [--pdfs ../shared/corpus/example-docs | --pdfs '']
        [--example-docs] [--backend onnx-int8]

PDFs: the PDFs under `--pdfs` are copied to a folder of their own and ingested once into a
fresh temporary data dir (SQLite + embedded Qdrant, the real MiniLM embedder, `--backend`), as
`enclave ingest` does when it holds the index (`ingest.worker.sync_now` on a `Worker` with its
own parse pool); pages (pypdf) of the PDFs that yield chunks / wall time = pages/s.
`--example-docs` ingests the whole corpus once and prints its wall time and outcome (chunked,
failed by reason). The time inside ours is split by stage as in bench/ingest.py
(`bench._common.instrumented`). Both run with the model loaded and the parse pool's fork
server started by an untimed ingest of samples/ (its cost, paid once per `enclave ingest`
process, is printed first).
"""

# The parse pool starts its workers from a fork server, and each new worker re-imports this
# file as its main module: only the standard library and `enclave` are imported at the top, so
# a worker starts as fast as it does under `enclave ingest`. The rest is imported where used.
from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

ROOT = Path(__file__).resolve().parent.parent
# `python bench/ingest_corpus.py` puts bench/ first on sys.path, where bench/ingest.py would
# shadow the `ingest` package: resolve imports from the repository root instead.
sys.path[:] = [str(ROOT), *(p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench")]

import enclave  # noqa: E402, F401  (first: switches the ML libraries to offline mode)

if TYPE_CHECKING:
    from enclave.embedder import Embedder


def main() -> None:
    from bench._common import (
        EXAMPLE_DOCS,
        SAMPLES,
        add_backend_option,
        bench_settings,
        machine,
        warm_up,
    )
    from enclave.embedder import Embedder

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_backend_option(parser)
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
    with_pdfs = str(args.pdfs) not in ("", ".")
    if not with_pdfs and not args.example_docs:
        parser.error("nothing to measure: --pdfs '' without --example-docs")

    with tempfile.TemporaryDirectory(prefix="enclave-bench-ingest-corpus-") as tmp:
        work = Path(tmp)
        started = time.perf_counter()
        settings = bench_settings(work / "var-load", embedding_backend=args.backend)
        embedder = Embedder.from_settings(settings)
        print(
            f"embedder ({args.backend}) loaded in {time.perf_counter() - started:.1f} s",
            file=sys.stderr,
        )
        pool_start = warm_up(SAMPLES, work, embedder)
        pdfs = ingest_pdfs(args.pdfs, work, embedder) if with_pdfs else None
        corpus = ingest_corpus(EXAMPLE_DOCS, work, embedder) if args.example_docs else None
    print(f"\nbench/ingest_corpus.py — {machine()}; embedding backend {args.backend}")
    if pool_start is not None:
        print(
            f"not measured below: the first file through this process's first parse pool took "
            f"{pool_start:.2f} s (fork server start + parser preload, once per `enclave "
            "ingest` process; done in the untimed warm-up on samples/)"
        )
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
    """One sync of `folder` into a fresh data dir, timed, with the stages split."""
    from bench._common import (
        Stages,
        bench_settings,
        ingest_setup,
        instrumented,
        load_average,
        load_span,
    )
    from ingest.worker import sync_now

    settings = bench_settings(work / f"var-{label}", embedding_backend=embedder.backend)
    result = Stages()
    before = load_average()
    with ingest_setup(settings, embedder) as (worker, _), instrumented(worker, result):
        started = time.perf_counter()
        job = sync_now(worker, folder)
        wall = time.perf_counter() - started
    load = load_span(before)
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
