"""Embedding backends: torch vs ONNX Runtime vs ONNX Runtime int8, for speed and for retrieval
quality on ClapNQ dev, in the same run.

    .venv/bin/python bench/embedding_backends.py [--rounds 3] [--passages 128] [--batch-size 32]

Each backend is loaded with `Embedder.load(..., backend=...)`, as `enclave` loads it from
ENCLAVE_EMBEDDING_BACKEND; the ONNX files are exported (and quantized) from the local model
folder into a temporary folder, and the time that takes is reported (paid once, then cached).

- Recall: the 597 distinct ClapNQ dev passages (title + text of `passages[0]` in both files)
  are embedded as documents, the 300 answerable questions as queries (one at a time, as a
  search does); a question scores at k
  when its own passage is among the k nearest by cosine (numpy, exact). Also the cosine of each
  backend's passage vectors with torch's.
- Speed: `--passages` of those passages cut to their first 100 words, embedded by
  `Embedder.embed_documents` (sorted by length, batches of `--batch-size`); and the same
  passages cut to mixed lengths (10–200 words), embedded sorted (ours) and in the given order
  (one `encode` per batch, no sort across batches). Each measure runs for every backend back
  to back, in an order that rotates per round; wall time and this process's CPU time.

The machine is shared: the 1-minute load average is printed beside every timing.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

ROOT = Path(__file__).resolve().parent.parent
# `python bench/x.py` puts bench/ first on sys.path, where bench/ingest.py would shadow the
# `ingest` package: resolve imports from the repository root instead.
sys.path[:] = [str(ROOT), *(p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench")]

import enclave  # noqa: E402, F401  (first: switches the ML libraries to offline mode)
from bench._common import (  # noqa: E402
    CLAPNQ,
    bare_encode,
    bench_settings,
    clapnq_records,
    load_average,
    machine,
    table,
)

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    from enclave.embedder import Embedder

BACKENDS = ("torch", "onnx", "onnx-int8")
KS = (1, 5, 10)


@dataclass
class ClapNQ:
    passages: list[str]  # distinct title + text
    questions: list[str]  # answerable ones
    gold: list[int]  # index of each question's own passage


def load_clapnq(folder: Path = CLAPNQ) -> ClapNQ:
    if not folder.is_dir():
        raise SystemExit(f"ClapNQ dev not found at {folder}")
    index: dict[tuple[str, str], int] = {}
    questions, gold = [], []
    for answerable, record in clapnq_records(folder):
        passage = record["passages"][0]
        position = index.setdefault((passage["title"], passage["text"]), len(index))
        if answerable:
            questions.append(record["input"])
            gold.append(position)
    return ClapNQ([f"{title}\n{text}" for title, text in index], questions, gold)


def cut(text: str, words: int) -> str:
    return " ".join(text.split()[:words])


def mixed_lengths(texts: Sequence[str]) -> list[str]:
    """Deterministic spread of lengths between 10 and 200 words, in no particular order."""
    return [cut(text, 10 + (i * 37) % 191) for i, text in enumerate(texts)]


MEASURES = ("100 words, sorted", "mixed, sorted", "mixed, unsorted")


@dataclass
class Timing:
    wall: float  # seconds
    cpu: float  # CPU seconds of this process (all its threads)
    load: float  # 1-min load average right after


@dataclass
class Result:
    backend: str
    export_s: float | None = None
    load_s: float = 0.0
    recall: dict[int, float] = field(default_factory=dict)
    mrr: float = 0.0
    cos_mean: float | None = None
    cos_min: float | None = None
    timings: defaultdict[str, list[Timing]] = field(default_factory=lambda: defaultdict(list))


def timed(action: Callable[[], Any]) -> tuple[Any, Timing]:
    wall, cpu = time.perf_counter(), time.process_time()
    value = action()
    return value, Timing(time.perf_counter() - wall, time.process_time() - cpu, load_average())


def recall_at(
    questions: npt.NDArray[np.float32], passages: npt.NDArray[np.float32], gold: list[int]
) -> tuple[dict[int, float], float]:
    import numpy as np

    scores = questions @ passages.T
    own = scores[np.arange(len(gold)), gold]
    # Rank of the own passage: passages scoring strictly higher, plus one.
    ranks = (scores > own[:, None]).sum(axis=1) + 1
    recall = {k: float((ranks <= k).mean()) for k in KS}
    mrr = float(np.where(ranks <= 10, 1.0 / ranks, 0.0).mean())
    return recall, mrr


def unsorted_encode(embedder: Embedder, texts: Sequence[str], batch: int) -> Any:
    """One `encode` per batch in the given order: what embedding looks like without our sort."""
    return [
        bare_encode(embedder.model, texts[start : start + batch], embedder.model_batch_size)
        for start in range(0, len(texts), batch)
    ]


def main() -> None:
    import numpy as np

    from enclave.embedder import Embedder

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3, help="speed rounds (3)")
    parser.add_argument("--passages", type=int, default=128, help="passages timed (128)")
    parser.add_argument("--batch-size", type=int, default=32, help="encode batch size (32)")
    parser.add_argument("--backends", nargs="+", default=list(BACKENDS), choices=BACKENDS)
    args = parser.parse_args()

    data = load_clapnq()
    print(
        f"ClapNQ dev: {len(data.passages)} passages, {len(data.questions)} answerable questions",
        file=sys.stderr,
    )
    short = [cut(text, 100) for text in data.passages[: args.passages]]
    mixed = mixed_lengths(data.passages[: args.passages])
    batch = args.batch_size
    results: dict[str, Result] = {}
    embedders: dict[str, Embedder] = {}
    reference: Any = None
    with tempfile.TemporaryDirectory(prefix="enclave-bench-embed-") as tmp:
        model_path = bench_settings(Path(tmp)).embedding_model_path()
        cache = Path(tmp) / "onnx"  # a fresh cache: the export is timed
        for backend in args.backends:
            result = results[backend] = Result(backend)

            def load(backend: Any = backend) -> Embedder:
                return Embedder.load(model_path, batch, backend=backend, onnx_cache=cache)

            if backend != "torch":  # the first load exports (and quantizes)
                _, timing = timed(load)
                result.export_s = timing.wall
            embedder, timing = timed(load)
            embedders[backend], result.load_s = embedder, timing.wall
            embedder.embed_documents(["warm-up"] * batch)
            vectors = embedder.embed_documents(data.passages)
            # One at a time, as a search embeds its query.
            queries = np.stack([embedder.embed_query(q) for q in data.questions])
            result.recall, result.mrr = recall_at(queries, vectors, data.gold)
            if backend == "torch":
                reference = vectors
            elif reference is not None:
                cosines = (vectors * reference).sum(axis=1)
                result.cos_mean, result.cos_min = float(cosines.mean()), float(cosines.min())
            print(
                f"{backend}: recall@1/5/10 " + "/".join(f"{result.recall[k]:.3f}" for k in KS),
                file=sys.stderr,
            )
        for number in range(args.rounds):
            # Each measure runs for every backend back to back, in a rotating order, so
            # that a change in the machine's load hits all of them alike.
            for name in MEASURES:
                shift = number % len(args.backends)
                for backend in args.backends[shift:] + args.backends[:shift]:
                    embedder = embedders[backend]
                    texts = short if name.startswith("100") else mixed
                    if name.endswith("unsorted"):
                        _, timing = timed(partial(unsorted_encode, embedder, texts, batch))
                    else:
                        _, timing = timed(partial(embedder.embed_documents, texts))
                    results[backend].timings[name].append(timing)
                    print(
                        f"round {number + 1} {name} {backend}: {len(texts) / timing.wall:.1f} "
                        f"passages/s, {len(texts) / timing.cpu:.1f} per CPU-s "
                        f"(load {timing.load:.2f})",
                        file=sys.stderr,
                    )
    report(results, data, args)


def report(results: dict[str, Result], data: ClapNQ, args: argparse.Namespace) -> None:
    print(f"\nbench/embedding_backends.py — {machine()}")
    print(
        f"Retrieval: ClapNQ dev, {len(data.passages)} passages (title + text) embedded as "
        f"documents, {len(data.questions)} answerable questions scored on their own passage "
        "(dense cosine, exact)\n"
    )
    quality = [
        [
            r.backend,
            *(r.recall[k] for k in KS),
            r.mrr,
            r.cos_mean,
            r.cos_min,
            r.export_s,
            r.load_s,
        ]
        for r in results.values()
    ]
    headers = [
        "backend",
        "R@1",
        "R@5",
        "R@10",
        "MRR@10",
        "cos vs torch",
        "min cos",
        "first load s",
        "load s",
    ]
    print(table(headers, quality))
    print(
        "\ncos vs torch = mean cosine of each passage's vector with torch's; first load s = "
        "loading with an empty cache: the ONNX file is exported (and quantized) from the model "
        "folder; load s = loading again, from the cached file"
    )

    print(
        f"\nSpeed: {args.passages} ClapNQ passages, batch {args.batch_size}, {args.rounds} "
        "round(s), the backends back to back per measure; medians over the rounds. "
        "The 2 cores are shared with other work: load averages beside every number.\n"
    )
    rows = []
    for name in MEASURES:
        for r in results.values():
            timings = r.timings[name]
            mine = [args.passages / t.wall for t in timings]
            ratio = None
            if "torch" in results:
                torch_walls = [t.wall for t in results["torch"].timings[name]]
                ratio = statistics.median(
                    tw / t.wall for tw, t in zip(torch_walls, timings, strict=True)
                )
            loads = [t.load for t in timings]
            rows.append(
                [
                    name,
                    r.backend,
                    statistics.median(mine),
                    max(mine),
                    statistics.median(args.passages / t.cpu for t in timings),
                    f"{ratio:.2f}×" if ratio is not None else "-",
                    f"{min(loads):.1f}–{max(loads):.1f}",
                ]
            )
    headers = ["measure", "backend", "p/s median", "p/s best", "p/CPU-s", "vs torch", "load"]
    print(table(headers, rows, align="llrrrrr"))
    print(
        "\n100 words = each passage cut to its first 100 words; mixed = cut to 10–200 words. "
        "sorted = Embedder.embed_documents (sorted by length, then batched; onnx-int8 runs "
        "the model on one text at a time); unsorted = one encode() per batch of "
        f"{args.batch_size} in the given order. p/CPU-s = passages per CPU-second of this "
        "process (less sensitive to the load than wall time); vs torch = median over rounds "
        "of torch's time / this backend's time in the same round."
    )


if __name__ == "__main__":
    main()
