"""Retrieval: turn a query into vectors and ask the store for the best chunks."""

from dataclasses import dataclass

from enclave.embedder import Embedder
from enclave.vectorstore import Hit, SearchFilter, SearchMode, VectorStore


@dataclass(frozen=True)
class Retriever:
    embedder: Embedder
    store: VectorStore
    default_mode: SearchMode = SearchMode.HYBRID

    def search(
        self,
        query: str,
        k: int,
        *,
        mode: SearchMode | None = None,
        filters: SearchFilter | None = None,
    ) -> list[Hit]:
        """The `k` best chunks for `query`, by meaning, words or both (`mode`), among
        those `filters` allow."""
        return self.store.search(
            self.embedder.embed_query(query),
            limit=k,
            text=query,
            mode=mode or self.default_mode,
            filters=filters,
        )
