"""The sentence-transformers embedder: one loaded model per process, shared by ingest and search."""

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from enclave.settings import Settings

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

Vectors = npt.NDArray[np.float32]


class Embedder:
    """Embeds chunks and queries into normalised vectors (cosine = dot product)."""

    def __init__(self, model: "SentenceTransformer", batch_size: int = 32) -> None:
        self.model = model
        self.batch_size = batch_size
        self._tokenizer = model.tokenizer

    @classmethod
    def load(cls, model_path: Path, batch_size: int = 32) -> "Embedder":
        # Imported here: sentence-transformers costs seconds to import, and CLI paths
        # that never embed (db upgrade, --help) should not pay for it.
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as transformers_logging

        transformers_logging.disable_progress_bar()  # no "Loading weights" bar on every start

        model = SentenceTransformer(str(model_path), device="cpu", local_files_only=True)
        return cls(model, batch_size=batch_size)

    @classmethod
    def from_settings(cls, settings: Settings) -> "Embedder":
        return cls.load(settings.embedding_model_path(), batch_size=settings.embedding_batch_size)

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
        return len(
            self._tokenizer(text, add_special_tokens=True, truncation=False, verbose=False)[
                "input_ids"
            ]
        )

    def count_tokens_batch(self, texts: Sequence[str]) -> list[int]:
        """Tokens per text without special tokens: these add up across whitespace-split pieces."""
        if not texts:
            return []
        encoded = self._tokenizer(
            list(texts), add_special_tokens=False, truncation=False, verbose=False
        )
        return [len(ids) for ids in encoded["input_ids"]]

    def embed_documents(self, texts: Sequence[str]) -> Vectors:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        vectors = self.model.encode(
            list(texts),
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.asarray(vectors, dtype=np.float32)

    def embed_query(self, text: str) -> Vectors:
        return self.embed_documents([text])[0]
