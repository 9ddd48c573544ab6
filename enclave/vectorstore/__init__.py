"""The vector store: chunks with their vectors, searched by meaning and by words.

`records` holds what is stored and returned, `query` what a search asks for, and `base` the
store interface and what every backend shares, `lexical` the BM25 sparse vectors; `edge` is
the embedded engine (default), `qdrant` a Qdrant server or cluster (ENCLAVE_QDRANT_URL) and
qdrant-client's local mode; `factory` chooses among them (`open_store`).
"""

from enclave.vectorstore.base import VectorStore
from enclave.vectorstore.factory import open_store
from enclave.vectorstore.query import SearchFilter, SearchMode
from enclave.vectorstore.records import ChunkRecord, Hit, StoreInUse, point_id

__all__ = [
    "ChunkRecord",
    "Hit",
    "SearchFilter",
    "SearchMode",
    "StoreInUse",
    "VectorStore",
    "open_store",
    "point_id",
]
