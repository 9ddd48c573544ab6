"""The store interface every backend implements, and what all backends share.

Backends differ only in how they talk to Qdrant (qdrant-client for a server and its local
mode, qdrant-edge for the embedded engine); what is stored per chunk, how words become a
sparse vector, how batches are cut and how relevance is computed live here, once.
"""

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from enclave.embedder import Vectors
from enclave.vectorstore import lexical
from enclave.vectorstore.query import SearchFilter, SearchMode
from enclave.vectorstore.records import ChunkRecord, Hit, point_id

DENSE_VECTOR = "dense"
SPARSE_VECTOR = "sparse"
# Payload fields that searches filter on: indexed, so filters apply inside the vector search.
KEYWORD_FIELDS = ("document_id", "groups", "source_name", "file_type")
INTEGER_FIELDS = ("ordinal",)
FLOAT_FIELDS = ("modified",)
UPSERT_BATCH = 256
# Each half of a hybrid query fetches this many candidates (at least) before fusion.
PREFETCH_MIN = 50
PREFETCH_FACTOR = 4
# Extra results fetched so that ties at the last place are broken the same way each time.
TIE_MARGIN = 5


@dataclass(frozen=True)
class PointsBatch:
    """Upsert-ready columns for one batch of chunks."""

    ids: list[str]
    dense: list[list[float]]
    sparse: list[lexical.SparseVector]
    payloads: list[dict[str, Any]]


@dataclass(frozen=True)
class Found:
    """One point as a backend returns it: its dense vector only when asked for."""

    id: str
    score: float
    payload: dict[str, Any]
    dense: Sequence[float] | None = None


def prefetch_limit(limit: int) -> int:
    return max(PREFETCH_MIN, limit * PREFETCH_FACTOR)


class VectorStore(ABC):
    """Chunks with a dense and a sparse vector each, searched by meaning, words or both."""

    collection: str
    # True for stores in this process's files (one process at a time may open them).
    embedded: bool

    # -- what backends implement -------------------------------------------------------

    @abstractmethod
    def ensure_collection(self, dimension: int) -> None:
        """Create the collection on first use; refuse one built for another embedder."""

    @abstractmethod
    def _write(self, batch: PointsBatch) -> None: ...

    @abstractmethod
    def _delete(self, selector: SearchFilter, from_ordinal: int | None = None) -> None: ...

    @abstractmethod
    def _set_payload(self, selector: SearchFilter, values: dict[str, Any]) -> None: ...

    @abstractmethod
    def _query(
        self,
        dense: Vectors,
        sparse: lexical.SparseVector,
        limit: int,
        mode: SearchMode,
        filters: SearchFilter,
    ) -> list[Found]:
        """The best `limit` points, each with its dense vector unless mode is DENSE."""

    @abstractmethod
    def _retrieve(self, ids: Sequence[str]) -> list[Found]: ...

    @abstractmethod
    def count(self, document_id: str | None = None) -> int: ...

    @abstractmethod
    def chunk_counts(self) -> dict[str, int]:
        """Points per document id across the whole collection: to audit the index against
        the documents table (no orphans, nothing missing)."""

    @abstractmethod
    def ping(self) -> bool: ...

    @abstractmethod
    def close(self) -> None: ...

    # -- shared behaviour --------------------------------------------------------------

    def upsert(self, chunks: Sequence[ChunkRecord], vectors: Vectors) -> None:
        if len(chunks) != len(vectors):
            raise ValueError(f"{len(chunks)} chunks but {len(vectors)} vectors")
        for start in range(0, len(chunks), UPSERT_BATCH):
            batch = chunks[start : start + UPSERT_BATCH]
            self._write(
                PointsBatch(
                    ids=[point_id(c.document_id, c.ordinal) for c in batch],
                    dense=vectors[start : start + UPSERT_BATCH].tolist(),
                    sparse=[lexical.encode_document(c.lexical_text) for c in batch],
                    payloads=[c.payload() for c in batch],
                )
            )

    def delete_document(self, document_id: str) -> None:
        self._delete(SearchFilter(document_ids=[document_id]))

    def delete_chunks_from(self, document_id: str, ordinal: int) -> None:
        """Drop a document's chunks numbered `ordinal` and above (left over from a longer
        earlier version)."""
        self._delete(SearchFilter(document_ids=[document_id]), from_ordinal=ordinal)

    def set_groups(self, document_id: str, groups: Sequence[str]) -> None:
        """Change who may see a document's chunks, without re-embedding them."""
        self._set_payload(SearchFilter(document_ids=[document_id]), {"groups": list(groups)})

    def search(
        self,
        vector: Vectors,
        limit: int,
        *,
        text: str = "",
        mode: SearchMode = SearchMode.DENSE,
        filters: SearchFilter | None = None,
    ) -> list[Hit]:
        """The best chunks for a query: `vector` is its embedding, `text` its words (needed
        by the sparse and hybrid modes). Every hit carries its cosine `relevance`."""
        sparse = lexical.encode_query(text) if mode != SearchMode.DENSE else lexical.EMPTY
        if mode == SearchMode.SPARSE and not sparse:
            return []  # only stop words: nothing to match
        if mode == SearchMode.HYBRID and not sparse:
            mode = SearchMode.DENSE
        # Scores tie (fused ranks often; copies of a text always), and the engine orders ties
        # differently from call to call: fetch a few more and order ties by cosine, then
        # position, so a query always answers the same (an evaluation gate must not move
        # when nothing changed).
        found = self._query(vector, sparse, limit + TIE_MARGIN, mode, filters or SearchFilter())
        query = np.asarray(vector, dtype=np.float32)
        hits = [
            Hit.from_payload(f.id, f.payload, f.score, _relevance(query, f, mode)) for f in found
        ]
        hits.sort(key=lambda h: (-h.score, -h.relevance, h.document_id, h.ordinal))
        return hits[:limit]

    def fetch(self, document_id: str, ordinals: Sequence[int]) -> list[Hit]:
        """Chunks of one document by ordinal (those that exist), in ordinal order, score 0:
        to widen a hit with its neighbours."""
        found = self._retrieve([point_id(document_id, n) for n in ordinals])
        return sorted(
            (Hit.from_payload(f.id, f.payload, 0.0) for f in found), key=lambda h: h.ordinal
        )


def _relevance(query: np.ndarray, found: Found, mode: SearchMode) -> float:
    if mode == SearchMode.DENSE or found.dense is None:
        return found.score if mode == SearchMode.DENSE else 0.0
    chunk = np.asarray(found.dense, dtype=np.float32)
    norms = float(np.linalg.norm(query) * np.linalg.norm(chunk))
    return float(query @ chunk / norms) if norms else 0.0
