"""Retrieval: turn a query into vectors and ask the store for the best chunks."""

from dataclasses import dataclass

from app.answering.rerank import Reranker
from app.answering.source_paths import SourcePaths
from enclave.embedder import Embedder
from enclave.vectorstore import Hit, SearchFilter, SearchMode, VectorStore


@dataclass(frozen=True)
class Retriever:
    embedder: Embedder
    store: VectorStore
    default_mode: SearchMode = SearchMode.HYBRID
    reranker: Reranker | None = None
    # Shows restricted callers paths relative to their source (app/source_paths.py).
    paths: SourcePaths | None = None

    def search(
        self,
        query: str,
        k: int,
        *,
        mode: SearchMode | None = None,
        filters: SearchFilter | None = None,
    ) -> list[Hit]:
        """The `k` best chunks for `query`, by meaning, words or both (`mode`), among
        those `filters` allow; re-ordered by the cross-encoder when one is configured."""
        wide = max(k, self.reranker.candidates) if self.reranker else k
        hits = self.store.search(
            self.embedder.embed_query(query),
            limit=wide,
            text=query,
            mode=mode or self.default_mode,
            filters=filters,
        )
        hits = self.reranker.rerank(query, hits, k) if self.reranker else hits
        if self.paths is not None and filters is not None:
            hits = self.paths.hits(hits, filters.groups)
        return hits
