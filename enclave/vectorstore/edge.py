"""The embedded default: Qdrant's own Rust engine in this process (qdrant-edge).

Unlike qdrant-client's local mode (a Python scan of every point), Edge keeps real segments
with payload indexes, so the access filter every query carries costs next to nothing. One
process at a time may open a shard (its write-ahead log is locked): a second gets
`StoreInUse`, which `enclave ingest` answers by handing its job to that process.
"""

import json
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import qdrant_edge as edge

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

# Bumped when what is stored changes shape; an older shard then asks for a re-ingest.
_LAYOUT = 1
_RRF_K = 60  # the usual constant, and qdrant-client's default
_SCROLL_PAGE = 1024


def to_filter(selector: SearchFilter, from_ordinal: int | None = None) -> edge.Filter | None:
    must: list[Any] = [_condition(c) for c in selector.conditions(from_ordinal)]
    return edge.Filter(must=must) if must else None


def _condition(condition: Condition) -> edge.FieldCondition:
    if isinstance(condition, AnyOf):
        return edge.FieldCondition(
            key=condition.key, match=edge.MatchAny(any=list(condition.values))
        )
    return edge.FieldCondition(
        key=condition.key, range=edge.RangeFloat(gte=condition.gte, lte=condition.lte)
    )


def _sparse(vector: lexical.SparseVector) -> edge.SparseVector:
    return edge.SparseVector(vector.indices, vector.values)


class EdgeStore(VectorStore):
    embedded = True

    def __init__(self, folder: Path, collection: str) -> None:
        self.collection = collection
        self.path = folder / collection
        self._meta = folder / f"{collection}.enclave.json"
        self._shard: edge.EdgeShard | None = None
        if self._meta.exists():
            self._shard = self._load(self.path)

    @classmethod
    def open(cls, settings: Settings) -> "EdgeStore":
        folder = settings.store_path() / "edge"
        folder.mkdir(parents=True, exist_ok=True)
        return cls(folder, settings.collection)

    @staticmethod
    def _load(path: Path) -> edge.EdgeShard:
        try:
            return edge.EdgeShard.load(str(path))
        except Exception as error:  # the binding raises a bare Exception
            if "WouldBlock" in str(error):
                raise StoreInUse.at(path) from error
            raise

    @property
    def shard(self) -> edge.EdgeShard:
        if self._shard is None:
            raise ConfigurationError(f"The index at {self.path} has not been created yet.")
        return self._shard

    def ensure_collection(self, dimension: int) -> None:
        if self._shard is not None:
            meta = json.loads(self._meta.read_text())
            if meta.get("dimension") != dimension or meta.get("layout") != _LAYOUT:
                raise ConfigurationError(
                    f"The index at {self.path} was built for another embedding model or by "
                    f"another Enclave release (expected {dimension}-d vectors, layout "
                    f"{_LAYOUT}). Use a new ENCLAVE_COLLECTION or re-ingest into an empty "
                    "data directory."
                )
            return
        config = edge.EdgeConfig(
            vectors={
                DENSE_VECTOR: edge.EdgeVectorParams(size=dimension, distance=edge.Distance.Cosine)
            },
            sparse_vectors={SPARSE_VECTOR: edge.EdgeSparseVectorParams(modifier=edge.Modifier.Idf)},
        )
        if self.path.exists():  # left by a creation that never finished
            shutil.rmtree(self.path)
        shard = edge.EdgeShard.create(str(self.path), config)
        indexes = [
            *((name, edge.PayloadSchemaType.Keyword) for name in KEYWORD_FIELDS),
            *((name, edge.PayloadSchemaType.Integer) for name in INTEGER_FIELDS),
            *((name, edge.PayloadSchemaType.Float) for name in FLOAT_FIELDS),
        ]
        for name, schema in indexes:
            shard.update(edge.UpdateOperation.create_field_index(name, schema))
        shard.flush()
        # Written last: a shard without it was never finished and is created again.
        self._meta.write_text(json.dumps({"dimension": dimension, "layout": _LAYOUT}))
        self._shard = shard

    def _write(self, batch: PointsBatch) -> None:
        points = [
            edge.Point(id_, {DENSE_VECTOR: dense, SPARSE_VECTOR: _sparse(sparse)}, payload)
            for id_, dense, sparse, payload in zip(
                batch.ids, batch.dense, batch.sparse, batch.payloads, strict=True
            )
        ]
        self.shard.update(edge.UpdateOperation.upsert_points(points))

    def _delete(self, selector: SearchFilter, from_ordinal: int | None = None) -> None:
        condition = to_filter(selector, from_ordinal)
        if condition is None:
            raise ValueError("refusing to delete every point")
        self.shard.update(edge.UpdateOperation.delete_points_by_filter(condition))

    def _set_payload(self, selector: SearchFilter, values: dict[str, Any]) -> None:
        condition = to_filter(selector)
        if condition is None:
            raise ValueError("refusing to change every point")
        self.shard.update(edge.UpdateOperation.set_payload_by_filter(condition, values))

    def _query(
        self,
        dense: Vectors,
        sparse: lexical.SparseVector,
        limit: int,
        mode: SearchMode,
        filters: SearchFilter,
    ) -> list[Found]:
        condition = to_filter(filters)
        with_vector: bool | list[str] = [DENSE_VECTOR] if mode != SearchMode.DENSE else False
        dense_query = edge.Query.Nearest(dense.tolist(), using=DENSE_VECTOR)
        sparse_query = edge.Query.Nearest(_sparse(sparse), using=SPARSE_VECTOR)
        if mode == SearchMode.HYBRID:
            wide = prefetch_limit(limit)
            request = edge.QueryRequest(
                limit=limit,
                prefetches=[
                    edge.Prefetch(limit=wide, query=dense_query, filter=condition),
                    edge.Prefetch(limit=wide, query=sparse_query, filter=condition),
                ],
                query=edge.Fusion.Rrf(k=_RRF_K),  # type: ignore[arg-type]  # stub omits Rrf
                filter=condition,
                with_payload=True,
                with_vector=with_vector,
            )
        else:
            request = edge.QueryRequest(
                limit=limit,
                query=dense_query if mode == SearchMode.DENSE else sparse_query,
                filter=condition,
                with_payload=True,
                with_vector=with_vector,
            )
        return [_found(point) for point in self.shard.query(request)]

    def _retrieve(self, ids: Sequence[str]) -> list[Found]:
        records = self.shard.retrieve(list(ids), with_payload=True, with_vector=False)
        return [Found(str(r.id), 0.0, r.payload or {}) for r in records]

    def count(self, document_id: str | None = None) -> int:
        if self._shard is None:
            return 0
        selector = to_filter(SearchFilter(document_ids=[document_id])) if document_id else None
        return self.shard.count(edge.CountRequest(filter=selector, exact=True))

    def chunk_counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        if self._shard is None:
            return counts
        offset = None
        while True:
            records, offset = self.shard.scroll(
                edge.ScrollRequest(offset=offset, limit=_SCROLL_PAGE, with_payload=["document_id"])
            )
            for record in records:
                document_id = str((record.payload or {}).get("document_id", ""))
                counts[document_id] = counts.get(document_id, 0) + 1
            if offset is None:
                return counts

    def optimize(self) -> None:
        """Merge small segments and build the vector index; worth it after a large job."""
        if self._shard is not None:
            self._shard.optimize()

    def ping(self) -> bool:
        return self._shard is not None

    def close(self) -> None:
        if self._shard is not None:
            self._shard.close()
            self._shard = None


def _found(point: edge.ScoredPoint) -> Found:
    vectors = point.vector if isinstance(point.vector, dict) else {}
    dense = vectors.get(DENSE_VECTOR)
    return Found(str(point.id), float(point.score), point.payload or {}, dense)  # type: ignore[arg-type]
