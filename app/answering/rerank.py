"""Optional second-stage ranking with a sentence-transformers CrossEncoder.

A cross-encoder reads query and passage together, so it ranks better than vector similarity
but costs a model call per candidate: it re-orders the store's best `candidates` hits only.
Off unless ENCLAVE_RERANKER_MODEL_PATH names a local CrossEncoder folder (none ships with
Enclave: measure one with `enclave eval` on your own data before turning it on).
"""

import dataclasses
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from enclave.settings import ConfigurationError, Settings
from enclave.vectorstore import Hit

if TYPE_CHECKING:
    from sentence_transformers import CrossEncoder


class Reranker:
    def __init__(self, model: "CrossEncoder", candidates: int) -> None:
        self.model = model
        self.candidates = candidates
        # One forward pass at a time: request threads share the model.
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Settings) -> "Reranker | None":
        path = settings.reranker_model_path
        if path is None:
            return None
        if not Path(path).is_dir():
            raise ConfigurationError(
                f"Reranker model folder not found: {path} (ENCLAVE_RERANKER_MODEL_PATH)."
            )
        from sentence_transformers import CrossEncoder

        model = CrossEncoder(str(path), device="cpu", local_files_only=True)
        return cls(model, settings.rerank_candidates)

    def rerank(self, query: str, hits: Sequence[Hit], k: int) -> list[Hit]:
        """The `k` best of `hits` by the cross-encoder; each hit's `score` becomes its score
        (relevance, the cosine, is kept for thresholds)."""
        if not hits:
            return []
        with self._lock:
            scores = self.model.predict([(query, hit.text) for hit in hits], batch_size=32)
        ranked = sorted(
            zip(hits, (float(s) for s in scores), strict=True), key=lambda pair: -pair[1]
        )
        return [dataclasses.replace(hit, score=score) for hit, score in ranked[:k]]
