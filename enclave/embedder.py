"""The sentence-transformers embedder: one loaded model per process, shared by ingest and search."""

import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from enclave.settings import EmbeddingBackend, Settings

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

Vectors = npt.NDArray[np.float32]


class Embedder:
    """Embeds chunks and queries into normalised vectors (cosine = dot product)."""

    def __init__(
        self,
        model: "SentenceTransformer",
        batch_size: int = 32,
        backend: EmbeddingBackend = "torch",
    ) -> None:
        self.model = model
        self.batch_size = batch_size
        self.backend = backend
        # int8 quantizes each layer's input with one scale for the whole batch, so a text's
        # vector would depend on its batch mates (and padding): cosine down to 0.97 between a
        # query alone and the same text in a batch. The model gets one text at a time instead
        # (on CPU, as fast as batches of 32 once texts are sorted by length).
        self.model_batch_size = 1 if backend == "onnx-int8" else batch_size
        self._tokenizer = model.tokenizer
        # The fast tokenizer keeps truncation/padding as shared mutable state: two threads
        # using it at once corrupt each other's batches (seen with the in-process worker
        # embedding while a request embeds a query). Held per batch, so a query waits for
        # at most one ingestion batch.
        self._lock = threading.Lock()

    @classmethod
    def load(
        cls,
        model_path: Path,
        batch_size: int = 32,
        *,
        backend: EmbeddingBackend = "torch",
        onnx_cache: Path | None = None,
    ) -> "Embedder":
        """Load the sentence-transformers folder. With an ONNX backend, its transformer runs
        in ONNX Runtime from a file exported (and quantized) into `onnx_cache` on first use."""
        # Imported here: sentence-transformers costs seconds to import, and CLI paths
        # that never embed (db upgrade, --help) should not pay for it.
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as transformers_logging

        transformers_logging.disable_progress_bar()  # no "Loading weights" bar on every start

        model = SentenceTransformer(str(model_path), device="cpu", local_files_only=True)
        if backend != "torch":
            from enclave.embedder_onnx import onnx_file, use_onnx

            if onnx_cache is None:
                raise ValueError(f"the {backend!r} backend needs a folder for its ONNX file")
            path = onnx_file(model, model_path, onnx_cache, quantized=backend == "onnx-int8")
            use_onnx(model, path)
        return cls(model, batch_size=batch_size, backend=backend)

    @classmethod
    def from_settings(cls, settings: Settings) -> "Embedder":
        onnx_cache = None
        if settings.embedding_backend != "torch":
            from enclave.embedder_onnx import cache_dir

            onnx_cache = cache_dir(settings.data_dir)
        return cls.load(
            settings.embedding_model_path(),
            batch_size=settings.embedding_batch_size,
            backend=settings.embedding_backend,
            onnx_cache=onnx_cache,
        )

    @property
    def dimension(self) -> int:
        # Renamed in sentence-transformers 6; keep working with 5.x.
        get_dimension = getattr(self.model, "get_embedding_dimension", None)
        dimension = (get_dimension or self.model.get_sentence_embedding_dimension)()
        if dimension is None:
            raise ValueError("embedding model does not report its dimension")
        return int(dimension)

    @property
    def max_tokens(self) -> int:
        """Word pieces the model reads, special tokens included; the rest is truncated."""
        length = self.model.max_seq_length or self._tokenizer.model_max_length
        return int(length)

    def count_tokens(self, text: str) -> int:
        """Tokens the model sees for `text`, including [CLS]/[SEP]."""
        with self._lock:
            encoded = self._tokenizer(
                text, add_special_tokens=True, truncation=False, verbose=False
            )
        return len(encoded["input_ids"])

    def count_tokens_batch(self, texts: Sequence[str]) -> list[int]:
        """Tokens per text without special tokens: these add up across whitespace-split pieces."""
        if not texts:
            return []
        with self._lock:
            encoded = self._tokenizer(
                list(texts), add_special_tokens=False, truncation=False, verbose=False
            )
        return [len(ids) for ids in encoded["input_ids"]]

    def embed_documents(self, texts: Sequence[str]) -> Vectors:
        """Normalised vectors, in the order of `texts`. Texts are batched by length (less
        padding per batch), and the model is taken one batch at a time."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]), reverse=True)
        vectors = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for start in range(0, len(order), self.batch_size):
            batch = order[start : start + self.batch_size]
            with self._lock:
                encoded = self.model.encode(
                    [texts[i] for i in batch],
                    batch_size=self.model_batch_size,
                    normalize_embeddings=True,
                    convert_to_numpy=True,
                    show_progress_bar=False,
                )
            vectors[batch] = np.asarray(encoded, dtype=np.float32)
        return vectors

    def embed_query(self, text: str) -> Vectors:
        return self.embed_documents([text])[0]
