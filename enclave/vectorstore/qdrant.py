"""The store on qdrant-client: a Qdrant server or cluster (ENCLAVE_QDRANT_URL), or
qdrant-client's local mode (ENCLAVE_EMBEDDED_STORE=local: pure Python, one process)."""

import threading
from collections.abc import Sequence
from contextlib import AbstractContextManager, nullcontext
from typing import Any

from qdrant_client import QdrantClient, models

from enclave.embedder import Vectors
from enclave.settings import ConfigurationError, Settings
from enclave.vectorstore import lexical
from enclave.vectorstore.base import (
    DENSE_VECTOR,
    FLOAT_FIELDS,
    INTEGER_FIELDS,
    KEYWORD_FIELDS,
    SPARSE_VECTOR,
    Found,
    PointsBatch,
    VectorStore,
    prefetch_limit,
)
from enclave.vectorstore.query import AnyOf, Condition, SearchFilter, SearchMode
from enclave.vectorstore.records import StoreInUse


def to_filter(selector: SearchFilter, from_ordinal: int | None = None) -> models.Filter | None:
    must: list[models.Condition] = [_condition(c) for c in selector.conditions(from_ordinal)]
    return models.Filter(must=must) if must else None


def _condition(condition: Condition) -> models.FieldCondition:
    if isinstance(condition, AnyOf):
        return models.FieldCondition(
            key=condition.key, match=models.MatchAny(any=list(condition.values))
        )
    return models.FieldCondition(
        key=condition.key, range=models.Range(gte=condition.gte, lte=condition.lte)
    )


def _sparse(vector: lexical.SparseVector) -> models.SparseVector:
    return models.SparseVector(indices=vector.indices, values=vector.values)


class QdrantStore(VectorStore):
    def __init__(self, client: QdrantClient, collection: str, *, embedded: bool) -> None:
        self.client = client
        self.collection = collection
        self.embedded = embedded
        # Local mode keeps points in numpy arrays that an upsert may resize under a reader:
        # the in-process worker and request threads take turns. A server needs no lock.
        self._lock: AbstractContextManager[object] = (
            threading.RLock() if embedded else nullcontext()
        )

    @classmethod
    def connect(cls, settings: Settings) -> "QdrantStore":
        api_key = settings.qdrant_api_key.get_secret_value() if settings.qdrant_api_key else None
        client = QdrantClient(url=settings.qdrant_url, api_key=api_key)
        return cls(client, settings.collection, embedded=False)

    @classmethod
    def open_local(cls, settings: Settings) -> "QdrantStore":
        path = settings.store_path()
        path.mkdir(parents=True, exist_ok=True)
        try:
            client = QdrantClient(path=str(path))
        except RuntimeError as error:
            if "already accessed" not in str(error):
                raise
            raise StoreInUse.at(path) from error
        return cls(client, settings.collection, embedded=True)

    def ensure_collection(self, dimension: int) -> None:
        if self.client.collection_exists(self.collection):
            params = self.client.get_collection(self.collection).config.params
            vectors = params.vectors
            dense = vectors.get(DENSE_VECTOR) if isinstance(vectors, dict) else None
            if dense is None or dense.size != dimension:
                raise ConfigurationError(
                    f"Collection '{self.collection}' was built for another embedding model "
                    f"(expected a '{DENSE_VECTOR}' vector of size {dimension}). Use a new "
                    "ENCLAVE_COLLECTION or re-ingest into an empty data directory."
                )
            if SPARSE_VECTOR not in (params.sparse_vectors or {}):
                raise ConfigurationError(
                    f"Collection '{self.collection}' has no '{SPARSE_VECTOR}' (BM25) vectors: it "
                    "was built by an older Enclave. Set a new ENCLAVE_COLLECTION and re-ingest."
                )
            return
        self.client.create_collection(
            self.collection,
            vectors_config={
                DENSE_VECTOR: models.VectorParams(size=dimension, distance=models.Distance.COSINE)
            },
            sparse_vectors_config={
                SPARSE_VECTOR: models.SparseVectorParams(modifier=models.Modifier.IDF)
            },
        )
        if self.embedded:
            return  # local mode scans every point: indexes would be ignored
        schemas = [
            *((name, models.PayloadSchemaType.KEYWORD) for name in KEYWORD_FIELDS),
            *((name, models.PayloadSchemaType.INTEGER) for name in INTEGER_FIELDS),
            *((name, models.PayloadSchemaType.FLOAT) for name in FLOAT_FIELDS),
        ]
        for name, schema in schemas:
            self.client.create_payload_index(self.collection, name, field_schema=schema)

    def _write(self, batch: PointsBatch) -> None:
        with self._lock:
            self.client.upsert(
                self.collection,
                points=models.Batch(
                    ids=list(batch.ids),
                    vectors={
                        DENSE_VECTOR: batch.dense,
                        SPARSE_VECTOR: [_sparse(s) for s in batch.sparse],
                    },
                    payloads=batch.payloads,
                ),
                wait=True,
            )

    def _delete(self, selector: SearchFilter, from_ordinal: int | None = None) -> None:
        condition = to_filter(selector, from_ordinal)
        if condition is None:
            raise ValueError("refusing to delete every point")
        with self._lock:
            self.client.delete(
                self.collection,
                points_selector=models.FilterSelector(filter=condition),
                wait=True,
            )

    def _set_payload(self, selector: SearchFilter, values: dict[str, Any]) -> None:
        condition = to_filter(selector)
        if condition is None:
            raise ValueError("refusing to change every point")
        with self._lock:
            self.client.set_payload(
                self.collection,
                payload=values,
                points=models.FilterSelector(filter=condition),
                wait=True,
            )

    def _query(
        self,
        dense: Vectors,
        sparse: lexical.SparseVector,
        limit: int,
        mode: SearchMode,
        filters: SearchFilter,
    ) -> list[Found]:
        condition = to_filter(filters)
        with_vectors: bool | list[str] = [DENSE_VECTOR] if mode != SearchMode.DENSE else False
        with self._lock:
            if mode == SearchMode.HYBRID:
                wide = prefetch_limit(limit)
                response = self.client.query_points(
                    self.collection,
                    prefetch=[
                        models.Prefetch(
                            query=dense.tolist(), using=DENSE_VECTOR, limit=wide, filter=condition
                        ),
                        models.Prefetch(
                            query=_sparse(sparse), using=SPARSE_VECTOR, limit=wide, filter=condition
                        ),
                    ],
                    query=models.FusionQuery(fusion=models.Fusion.RRF),
                    query_filter=condition,
                    limit=limit,
                    with_payload=True,
                    with_vectors=with_vectors,
                )
            else:
                dense_mode = mode == SearchMode.DENSE
                response = self.client.query_points(
                    self.collection,
                    query=dense.tolist() if dense_mode else _sparse(sparse),
                    using=DENSE_VECTOR if dense_mode else SPARSE_VECTOR,
                    query_filter=condition,
                    limit=limit,
                    with_payload=True,
                    with_vectors=with_vectors,
                )
        return [_found(point) for point in response.points]

    def _retrieve(self, ids: Sequence[str]) -> list[Found]:
        with self._lock:
            points = self.client.retrieve(self.collection, ids=list(ids), with_payload=True)
        return [Found(str(p.id), 0.0, p.payload or {}) for p in points]

    def count(self, document_id: str | None = None) -> int:
        selector = to_filter(SearchFilter(document_ids=[document_id])) if document_id else None
        with self._lock:
            return self.client.count(self.collection, count_filter=selector, exact=True).count

    def chunk_counts(self) -> dict[str, int]:
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


def _found(point: models.ScoredPoint) -> Found:
    vector = point.vector.get(DENSE_VECTOR) if isinstance(point.vector, dict) else None
    return Found(str(point.id), float(point.score), point.payload or {}, vector)  # type: ignore[arg-type]
