"""What the store holds per chunk, and what a search returns."""

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from enclave.settings import ConfigurationError

_POINT_NAMESPACE = uuid.UUID("5d1f0a8e-5c2b-4a55-9a44-8f6f1c2e7b10")


class StoreInUse(ConfigurationError):
    """The embedded store is open in another process (usually `enclave serve`)."""

    @classmethod
    def at(cls, path: Path) -> "StoreInUse":
        return cls(
            f"The embedded index at {path} is open in another Enclave process (is `enclave "
            "serve` running?). Stop that process first, or run a Qdrant server and set "
            "ENCLAVE_QDRANT_URL so several processes can share it."
        )


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
    source_name: str = ""
    # File modification time, seconds since the epoch (filterable as a range).
    modified: float = 0.0

    @property
    def lexical_text(self) -> str:
        """What the sparse (BM25) vector is built from: the words people search by."""
        return "\n".join(part for part in (self.title, self.heading, self.text) if part)

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
            "source_name": self.source_name,
            "modified": self.modified,
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
    # The store's ranking score: cosine (dense), BM25 (sparse) or fused rank (hybrid).
    score: float
    file_type: str = ""
    # Cosine similarity of query and chunk whatever the mode: comparable across modes and
    # queries, so thresholds (abstention) use it.
    relevance: float = 0.0

    @classmethod
    def from_payload(
        cls, chunk_id: str, payload: Mapping[str, Any], score: float, relevance: float = 0.0
    ) -> "Hit":
        return cls(
            chunk_id=chunk_id,
            document_id=payload.get("document_id", ""),
            ordinal=int(payload.get("ordinal", 0)),
            title=payload.get("title", ""),
            source=payload.get("source", ""),
            page=payload.get("page"),
            heading=payload.get("heading", ""),
            text=payload.get("text", ""),
            score=score,
            file_type=payload.get("file_type", ""),
            relevance=relevance,
        )
