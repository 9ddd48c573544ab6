"""What the ingestion steps pass each other about one file: its state on disk, the work
pending for it, its parts chunked and ready to embed, and the result recorded for it."""

import hashlib
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from ingest.chunking import Chunk


class Outcome(StrEnum):
    ADDED = "added"
    UPDATED = "updated"
    UNCHANGED = "unchanged"
    DELETED = "deleted"
    FAILED = "failed"


@dataclass(frozen=True)
class FileResult:
    path: str
    status: Outcome
    chunks: int = 0
    error: str | None = None
    document_id: str | None = None


@dataclass(frozen=True)
class FileState:
    """What is known about a file on disk before deciding whether to re-index it."""

    path: Path
    size: int
    mtime: float


def file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@dataclass(frozen=True)
class PreparedPart:
    document_path: str
    title: str
    chunks: list[Chunk]
    error: str | None
    is_main: bool


@dataclass(frozen=True)
class Prepared:
    """A parsed file, chunked and ready to embed: attachments first, the file itself last."""

    pending: "Pending"
    parts: list[PreparedPart]
    error: str | None = None  # the file itself could not be parsed

    @property
    def texts(self) -> list[str]:
        return [chunk.embed_text for part in self.parts for chunk in part.chunks]


@dataclass(frozen=True)
class Pending:
    """A file whose content is new or changed: it must be parsed and indexed."""

    state: FileState
    digest: str
    known_id: str | None
    was_indexed: bool
    groups: list[str]  # its access groups (ingest/acl.py, else the source's)


def attachment_path(path: str, name: str) -> str:
    return f"{path}#{name}"
