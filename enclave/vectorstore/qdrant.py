"""The Qdrant collection that holds chunks: one named dense vector and a payload per chunk.

The same code runs against the embedded on-disk store (default) and a Qdrant server or
cluster (`ENCLAVE_QDRANT_URL`): only how the client is built differs.
"""

import threading
import uuid
from collections.abc import Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from typing import Any

from qdrant_client import QdrantClient, models

from enclave.embedder import Vectors
from enclave.settings import ConfigurationError, Settings

DENSE_VECTOR = "dense"
# Fields that queries filter on get payload indexes (used by a server; ignored in local mode).
KEYWORD_INDEXES = ("document_id", "groups", "source", "file_type")
_POINT_NAMESPACE = uuid.UUID("5d1f0a8e-5c2b-4a55-9a44-8f6f1c2e7b10")
_UPSERT_BATCH = 256


class StoreInUse(ConfigurationError):
    """The embedded store is open in another process (usually `enclave serve`)."""


def point_id(document_id: str, ordinal: int) -> str:
    """Deterministic: re-ingesting a document overwrites its points instead of adding more."""
    return str(uuid.uuid5(_POINT_NAMESPACE, f"{document_id}/{ordinal}"))


@dataclass(frozen=True)
class ChunkRecord:
    """A chunk as stored: `text` is shown to people, the vector came from the embedded text."""

    document_id: str
    ordinal: int
    text: str
    title: str
    source: str
    page: int | None
    heading: str
    file_type: str
    groups: Sequence[str] = field(default_factory=lambda: ("public",))

    def payload(self) -> dict[str, Any]:
        return {
            "document_id": self.document_id,
            "ordinal": self.ordinal,
            "text": self.text,
            "title": self.title,
            "source": self.source,
            "page": self.page,
            "heading": self.heading,
            "file_type": self.file_type,
            "groups": list(self.groups),
        }


@dataclass(frozen=True)
class Hit:
    chunk_id: str
    document_id: str
    ordinal: int
    title: str
    source: str
    page: int | None
    heading: str
    text: str
    score: float

    @classmethod
    def from_point(cls, point: models.ScoredPoint) -> "Hit":
        payload = point.payload or {}
        return cls(
            chunk_id=str(point.id),
            document_id=payload.get("document_id", ""),
            ordinal=int(payload.get("ordinal", 0)),
            title=payload.get("title", ""),
            source=payload.get("source", ""),
            page=payload.get("page"),
            heading=payload.get("heading", ""),
            text=payload.get("text", ""),
            score=float(point.score),
        )


def _document_filter(document_id: str, from_ordinal: int | None = None) -> models.Filter:
    must: list[models.Condition] = [
        models.FieldCondition(key="document_id", match=models.MatchValue(value=document_id))
    ]
    if from_ordinal is not None:
        must.append(models.FieldCondition(key="ordinal", range=models.Range(gte=from_ordinal)))
    return models.Filter(must=must)


class VectorStore:
    def __init__(self, client: QdrantClient, collection: str, *, embedded: bool) -> None:
        self.client = client
        self.collection = collection
        # Local mode scans every point and has no payload indexes to build.
        self.embedded = embedded
        # Local mode keeps points in numpy arrays that an upsert may resize under a reader:
        # the in-process worker and request threads take turns. A server needs no lock.
        self._lock: AbstractContextManager[object] = (
            threading.RLock() if embedded else nullcontext()
        )

    @classmethod
    def from_settings(cls, settings: Settings) -> "VectorStore":
        if settings.qdrant_url:
            api_key = (
                settings.qdrant_api_key.get_secret_value() if settings.qdrant_api_key else None
            )
            client = QdrantClient(url=settings.qdrant_url, api_key=api_key)
        else:
            assert settings.qdrant_path is not None  # filled in by Settings
            settings.qdrant_path.mkdir(parents=True, exist_ok=True)
            try:
                client = QdrantClient(path=str(settings.qdrant_path))
            except RuntimeError as error:
                if "already accessed" not in str(error):
                    raise
                raise StoreInUse(
                    f"The embedded index at {settings.qdrant_path} is open in another Enclave "
                    "process (is `enclave serve` running?). Stop that process first, or run a "
                    "Qdrant server and set ENCLAVE_QDRANT_URL so several processes can share it."
                ) from error
        return cls(client, settings.collection, embedded=settings.qdrant_url is None)

    def ensure_collection(self, dimension: int) -> None:
        """Create the collection on first use; refuse a store built for another embedder."""
        if self.client.collection_exists(self.collection):
            vectors = self.client.get_collection(self.collection).config.params.vectors
            existing = vectors.get(DENSE_VECTOR) if isinstance(vectors, dict) else None
            if existing is None or existing.size != dimension:
                raise ConfigurationError(
                    f"Collection '{self.collection}' was built for another embedding model "
                    f"(expected a '{DENSE_VECTOR}' vector of size {dimension}). Use a new "
                    "ENCLAVE_COLLECTION or re-ingest into an empty data directory."
                )
            return
        self.client.create_collection(
            self.collection,
            vectors_config={
                DENSE_VECTOR: models.VectorParams(size=dimension, distance=models.Distance.COSINE)
            },
        )
        if self.embedded:
            return
        for name in KEYWORD_INDEXES:
            self.client.create_payload_index(
                self.collection, name, field_schema=models.PayloadSchemaType.KEYWORD
            )
        self.client.create_payload_index(
            self.collection, "ordinal", field_schema=models.PayloadSchemaType.INTEGER
        )

    def upsert(self, chunks: Sequence[ChunkRecord], vectors: Vectors) -> None:
        if len(chunks) != len(vectors):
            raise ValueError(f"{len(chunks)} chunks but {len(vectors)} vectors")
        for start in range(0, len(chunks), _UPSERT_BATCH):
            batch = chunks[start : start + _UPSERT_BATCH]
            with self._lock:
                self.client.upsert(
                    self.collection,
                    points=models.Batch(
                        ids=[point_id(c.document_id, c.ordinal) for c in batch],
                        vectors={DENSE_VECTOR: vectors[start : start + _UPSERT_BATCH].tolist()},
                        payloads=[c.payload() for c in batch],
                    ),
                    wait=True,
                )

    def delete_document(self, document_id: str) -> None:
        self._delete(_document_filter(document_id))

    def delete_chunks_from(self, document_id: str, ordinal: int) -> None:
        """Drop a document's chunks numbered `ordinal` and above (left over from a longer
        earlier version)."""
        self._delete(_document_filter(document_id, from_ordinal=ordinal))

    def _delete(self, selector: models.Filter) -> None:
        with self._lock:
            self.client.delete(
                self.collection, points_selector=models.FilterSelector(filter=selector), wait=True
            )

    def search(self, vector: Vectors, limit: int) -> list[Hit]:
        with self._lock:
            response = self.client.query_points(
                self.collection,
                query=vector.tolist(),
                using=DENSE_VECTOR,
                limit=limit,
                with_payload=True,
            )
        return [Hit.from_point(point) for point in response.points]

    def count(self, document_id: str | None = None) -> int:
        selector = _document_filter(document_id) if document_id else None
        with self._lock:
            return self.client.count(self.collection, count_filter=selector, exact=True).count

    def chunk_counts(self) -> dict[str, int]:
        """Points per document id across the whole collection: to audit the index against
        the documents table (no orphans, nothing missing)."""
        counts: dict[str, int] = {}
        offset = None
        while True:
            with self._lock:
                points, offset = self.client.scroll(
                    self.collection,
                    limit=1024,
                    offset=offset,
                    with_payload=["document_id"],
                    with_vectors=False,
                )
            for point in points:
                document_id = str((point.payload or {}).get("document_id", ""))
                counts[document_id] = counts.get(document_id, 0) + 1
            if offset is None:
                return counts

    def ping(self) -> bool:
        return self.client.collection_exists(self.collection)

    def close(self) -> None:
        self.client.close()
