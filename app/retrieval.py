"""Retrieval: embed the query and ask the vector store for the nearest chunks."""

from dataclasses import dataclass

from enclave.embedder import Embedder
from enclave.vectorstore import Hit, VectorStore


@dataclass(frozen=True)
class Retriever:
    embedder: Embedder
    store: VectorStore

    def search(self, query: str, k: int) -> list[Hit]:
        return self.store.search(self.embedder.embed_query(query), limit=k)
