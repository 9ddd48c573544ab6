"""Search latency: Enclave's retrieval vs the bare libraries, per embedded engine, size and mode.

    .venv/bin/python bench/search.py [--sizes 10000,100000] [--queries 200]
                                     [--backends edge,local] [--local-queries 20]

Chunks are synthesized from the ClapNQ passages in ../shared/eval: each is two real
sentences joined, its vector the normalised sum of theirs (so vectors and words follow real
distributions without embedding 100k texts), with an access group, source, file type and
date spread over the corpus. Queries are real ClapNQ questions. Every query carries an access
filter (`groups`), as every query will once access control is on.

For each engine, size and mode, "ours" is `Retriever.search` (query embedding, BM25 query
vector, the store's query with filter, hits built with cosine relevance); "bare" is, in the
same run, `SentenceTransformer.encode` of the query plus one raw query call of the engine
with the same filter and limit. overhead = ours p50 / bare p50.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:] = [str(ROOT), *(p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench")]

import enclave  # noqa: E402, F401  (first: offline mode)
from bench._common import (  # noqa: E402
    CLAPNQ,
    bench_settings,
    clapnq_records,
    machine,
    percentile,
    table,
)

GROUPS = ["public", "engineering", "hr", "finance"]
ACCESS = ["public", "engineering"]  # the querying user's groups
K = 10


def load_clapnq() -> tuple[list[str], list[str]]:
    sentences: list[str] = []
    questions: list[str] = []
    seen: set[str] = set()
    for _, record in clapnq_records():
        questions.append(record["input"])
        for passage in record["passages"]:
            if passage["text"] in seen:
                continue
            seen.add(passage["text"])
            sentences.extend(s.strip() for s in passage["sentences"] if len(s.split()) >= 5)
    return sentences, questions


def synthesize(
    count: int, sentences: Sequence[str], vectors: Any, seed: int = 7
) -> tuple[list[Any], Any]:
    import numpy as np

    from enclave.vectorstore import ChunkRecord

    rng = random.Random(seed)
    first = np.array([rng.randrange(len(sentences)) for _ in range(count)])
    second = np.array([rng.randrange(len(sentences)) for _ in range(count)])
    mixed = vectors[first] + vectors[second]
    mixed /= np.linalg.norm(mixed, axis=1, keepdims=True)
    records = [
        ChunkRecord(
            document_id=f"doc-{i // 8}", ordinal=i % 8,
            text=f"{sentences[a]} {sentences[b]}", title=f"Document {i // 8}",
            source=f"/share/doc-{i // 8}.pdf", page=None, heading="",
            file_type=rng.choice(["pdf", "docx", "html", "txt"]),
            groups=[rng.choice(GROUPS)], source_name=f"source-{rng.randrange(5)}",
            modified=1.6e9 + rng.random() * 1e8,
        )
        for i, (a, b) in enumerate(zip(first.tolist(), second.tolist(), strict=True))
    ]  # fmt: skip
    return records, mixed.astype(np.float32)


def timed(fn: Callable[[str], object], queries: Sequence[str]) -> list[float]:
    fn(queries[0])  # warm caches and lazy imports
    samples = []
    for query in queries:
        started = time.perf_counter()
        fn(query)
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def bare_query(store: Any, mode: Any, model: Any) -> Callable[[str], object]:
    """The engine's own query call with the same filter, and a bare encode."""
    from enclave.vectorstore import SearchFilter, SearchMode, lexical
    from enclave.vectorstore.base import prefetch_limit

    access = SearchFilter(groups=ACCESS)
    if store.__class__.__name__ == "EdgeStore":
        import qdrant_edge as edge

        from enclave.vectorstore.edge import to_filter as edge_filter

        condition = edge_filter(access)

        def run_edge(query: str) -> object:
            vector = model.encode(query, normalize_embeddings=True).tolist()
            sparse = lexical.encode_query(query)
            dense_q = edge.Query.Nearest(vector, using="dense")
            sparse_q = edge.Query.Nearest(
                edge.SparseVector(sparse.indices, sparse.values), using="sparse"
            )
            if mode == SearchMode.HYBRID:
                wide = prefetch_limit(K)
                request = edge.QueryRequest(
                    limit=K, query=edge.Fusion.Rrf(k=60), filter=condition, with_payload=True,
                    prefetches=[edge.Prefetch(limit=wide, query=dense_q, filter=condition),
                                edge.Prefetch(limit=wide, query=sparse_q, filter=condition)],
                )  # fmt: skip
            else:
                query_vector = dense_q if mode == SearchMode.DENSE else sparse_q
                request = edge.QueryRequest(
                    limit=K, query=query_vector, filter=condition, with_payload=True
                )
            return store.shard.query(request)

        return run_edge

    from qdrant_client import models

    from enclave.vectorstore.qdrant import to_filter as client_filter

    condition = client_filter(access)

    def run_client(query: str) -> object:
        vector = model.encode(query, normalize_embeddings=True).tolist()
        sparse = lexical.encode_query(query)
        sparse_q = models.SparseVector(indices=sparse.indices, values=sparse.values)
        if mode == SearchMode.HYBRID:
            wide = prefetch_limit(K)
            return store.client.query_points(
                store.collection, query=models.FusionQuery(fusion=models.Fusion.RRF),
                prefetch=[
                    models.Prefetch(query=vector, using="dense", limit=wide, filter=condition),
                    models.Prefetch(query=sparse_q, using="sparse", limit=wide, filter=condition),
                ],
                query_filter=condition, limit=K, with_payload=True,
            )  # fmt: skip
        dense = mode == SearchMode.DENSE
        return store.client.query_points(
            store.collection, query=vector if dense else sparse_q,
            using="dense" if dense else "sparse", query_filter=condition, limit=K,
            with_payload=True,
        )  # fmt: skip

    return run_client


def search_with(retriever: Any, mode: Any, query: str) -> object:
    from enclave.vectorstore import SearchFilter

    return retriever.search(query, K, mode=mode, filters=SearchFilter(groups=ACCESS))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--backends", default="edge,local")
    parser.add_argument(
        "--local-queries", type=int, default=20,
        help="queries for qdrant-client local mode (a Python scan: seconds per query at 100k)",
    )  # fmt: skip
    parser.add_argument(
        "--optimize",
        action="store_true",
        help="optimize Edge segments (build HNSW) before querying; the worker does not",
    )
    parser.add_argument(
        "--local-max",
        type=int,
        default=100000,
        help="largest size to load into local mode (its upserts slow down as it grows)",
    )
    args = parser.parse_args()
    if not CLAPNQ.is_dir():
        raise SystemExit(f"ClapNQ not found at {CLAPNQ}")

    from app.answering.retrieval import Retriever
    from enclave.embedder import Embedder
    from enclave.vectorstore import SearchMode, open_store

    sentences, questions = load_clapnq()
    random.Random(1).shuffle(questions)
    with tempfile.TemporaryDirectory() as tmp:
        settings = bench_settings(Path(tmp) / "var")
        embedder = Embedder.from_settings(settings)
        started = time.perf_counter()
        base = embedder.embed_documents(sentences)
        print(
            f"embedded {len(sentences)} ClapNQ sentences in {time.perf_counter() - started:.1f} s"
        )
        rows: list[list[object]] = []
        for size in (int(s) for s in args.sizes.split(",")):
            records, vectors = synthesize(size, sentences, base)
            for backend in args.backends.split(","):
                if backend == "local" and size > args.local_max:
                    continue
                store = open_store(
                    bench_settings(Path(tmp) / f"{backend}-{size}", embedded_store=backend)
                )
                store.ensure_collection(embedder.dimension)
                started = time.perf_counter()
                for start in range(0, size, 4096):
                    store.upsert(records[start : start + 4096], vectors[start : start + 4096])
                insert_s = time.perf_counter() - started
                if args.optimize and hasattr(store, "optimize"):
                    # Not what the worker does (it never blocks on optimizing): opt-in.
                    started = time.perf_counter()
                    store.optimize()
                    print(f"{backend} {size:,}: optimize {time.perf_counter() - started:.1f} s")
                n = args.queries if backend == "edge" else min(args.queries, args.local_queries)
                batch = questions[:n]
                retriever = Retriever(embedder, store)
                for mode in SearchMode:
                    ours = timed(partial(search_with, retriever, mode), batch)
                    bare = timed(bare_query(store, mode, embedder.model), batch)
                    rows.append([
                        backend, f"{size:,}", mode.value, n, f"{size / insert_s:,.0f}",
                        f"{percentile(ours, 50):.1f}", f"{percentile(ours, 95):.1f}",
                        f"{percentile(bare, 50):.1f}", f"{percentile(bare, 95):.1f}",
                        f"{percentile(ours, 50) / percentile(bare, 50):.2f}",
                    ])  # fmt: skip
                    print(" | ".join(str(c) for c in rows[-1]), flush=True)
                store.close()
    print()
    print(machine())
    print(table(
        ["engine", "chunks", "mode", "queries", "insert pts/s", "ours p50 ms", "ours p95 ms",
         "bare p50 ms", "bare p95 ms", "overhead"],
        rows, align="lrlrrrrrrr",
    ))  # fmt: skip
    print("\nEvery query carries an access filter (groups ∈ {public, engineering}); k = 10.")
    print("bare = SentenceTransformer.encode + the engine's raw query call, same filter.")


if __name__ == "__main__":
    main()
