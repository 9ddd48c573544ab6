"""The ingestion pipeline: bring the index in line with the files under the given paths.

For each file: skip it if unchanged (size + mtime, then content hash), else parse → chunk →
embed → upsert its points (deterministic ids overwrite the previous version in place) → drop
points left over from a longer previous version → record it. Files that disappeared from a
walked folder are removed from the index and the database. A file that fails is recorded
with its reason and the others go on.
"""

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path

from enclave.db import Database, Document, DocumentStatus
from enclave.db.documents import DocumentRepository
from enclave.embedder import Embedder
from enclave.vectorstore import ChunkRecord, VectorStore
from ingest.chunking import Chunk, chunk_document
from ingest.discovery import discover
from ingest.parsing import ParseError, document_title, parse_file


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


@dataclass
class IngestReport:
    files: list[FileResult] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)

    def totals(self) -> dict[str, int]:
        totals = {outcome.value: 0 for outcome in Outcome}
        for result in self.files:
            totals[result.status.value] += 1
        totals["chunks"] = sum(r.chunks for r in self.files if r.status != Outcome.DELETED)
        return totals

    def as_json(self) -> dict[str, object]:
        return {
            "files": [
                {"path": r.path, "status": r.status.value, "chunks": r.chunks, "error": r.error}
                for r in self.files
            ],
            "totals": self.totals(),
            "missing": self.missing,
        }

    @property
    def failed(self) -> list[FileResult]:
        return [r for r in self.files if r.status == Outcome.FAILED]


ProgressCallback = Callable[[FileResult], None]


def file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class Ingestor:
    def __init__(
        self,
        database: Database,
        store: VectorStore,
        embedder: Embedder,
        *,
        max_chunk_tokens: int,
        default_groups: Sequence[str] = ("public",),
    ) -> None:
        self.database = database
        self.store = store
        self.embedder = embedder
        self.max_chunk_tokens = min(max_chunk_tokens, embedder.max_tokens)
        self.default_groups = list(default_groups)
        store.ensure_collection(embedder.dimension)

    def ingest(
        self,
        paths: Sequence[Path],
        on_file: ProgressCallback | None = None,
        on_discovered: Callable[[int], None] | None = None,
    ) -> IngestReport:
        found = discover(paths)
        report = IngestReport(missing=[str(p) for p in found.missing])
        if on_discovered:
            on_discovered(len(found.files))
        for path in found.files:
            result = self.ingest_file(path)
            report.files.append(result)
            if on_file:
                on_file(result)
        present = {str(p) for p in found.files}
        for folder in found.folders:
            for result in self.remove_vanished(folder, present):
                report.files.append(result)
                if on_file:
                    on_file(result)
        return report

    def ingest_file(self, path: Path) -> FileResult:
        source = str(path)
        try:
            stat = path.stat()
            with self.database.session() as session:
                known = DocumentRepository(session).by_path(source)
                if known and _unchanged_by_stat(known, stat.st_size, stat.st_mtime):
                    return FileResult(source, Outcome.UNCHANGED, known.chunk_count, None, known.id)
            digest = file_digest(path)
            if known and known.status == DocumentStatus.INDEXED and known.content_hash == digest:
                self._touch(known.id, stat.st_size, stat.st_mtime)
                return FileResult(source, Outcome.UNCHANGED, known.chunk_count, None, known.id)
            document_id = known.id if known else None
            document_id, chunks = self._index(
                path, document_id, digest, stat.st_size, stat.st_mtime
            )
        except (ParseError, OSError) as error:
            return self._record_failure(path, str(error))
        status = (
            Outcome.UPDATED if known and known.status == DocumentStatus.INDEXED else Outcome.ADDED
        )
        return FileResult(source, status, chunks, None, document_id)

    def _index(
        self, path: Path, document_id: str | None, digest: str, size: int, mtime: float
    ) -> tuple[str, int]:
        elements = parse_file(path)
        title = document_title(elements, path)
        chunks = chunk_document(elements, title, self.embedder, self.max_chunk_tokens)
        if not chunks:
            raise ParseError(
                "no text could be extracted (empty file, or a scan without a text layer)"
            )
        vectors = self.embedder.embed_documents([chunk.embed_text for chunk in chunks])
        with self.database.session() as session:
            repository = DocumentRepository(session)
            document = repository.get(document_id) if document_id else None
            if document is None:
                document = repository.add(
                    Document(
                        source_path=str(path), groups=self.default_groups, size=size, mtime=mtime
                    )
                )
            # Points first, then the row: a crash in between leaves a row that still says
            # "re-index me" (old hash), never a row that claims chunks the index lacks.
            records = [self._record(document, title, chunk, path) for chunk in chunks]
            self.store.upsert(records, vectors)
            self.store.delete_chunks_from(document.id, len(chunks))
            document.title = title
            document.file_type = path.suffix.lower().lstrip(".")
            document.content_hash = digest
            document.size = size
            document.mtime = mtime
            document.status = DocumentStatus.INDEXED
            document.error = None
            document.chunk_count = len(chunks)
            document.indexed_at = datetime.now(UTC)
            return document.id, len(chunks)

    @staticmethod
    def _record(document: Document, title: str, chunk: Chunk, path: Path) -> ChunkRecord:
        return ChunkRecord(
            document_id=document.id,
            ordinal=chunk.ordinal,
            text=chunk.text,
            title=title,
            source=str(path),
            page=chunk.page,
            heading=chunk.heading,
            file_type=path.suffix.lower().lstrip("."),
            groups=document.groups or ["public"],
        )

    def _touch(self, document_id: str, size: int, mtime: float) -> None:
        with self.database.session() as session:
            document = DocumentRepository(session).get(document_id)
            if document:
                document.size, document.mtime = size, mtime

    def _record_failure(self, path: Path, reason: str) -> FileResult:
        """Mark the document failed and take its old chunks out: the index must not answer
        from a version of the file that no longer exists."""
        source = str(path)
        with self.database.session() as session:
            repository = DocumentRepository(session)
            document = repository.by_path(source) or repository.add(
                Document(source_path=source, groups=self.default_groups)
            )
            self.store.delete_document(document.id)
            document.status = DocumentStatus.FAILED
            document.error = reason
            document.chunk_count = 0
            document.content_hash = None
            document.file_type = path.suffix.lower().lstrip(".")
            document.title = document.title or path.name
            return FileResult(source, Outcome.FAILED, 0, reason, document.id)

    def remove_vanished(self, folder: Path, present: set[str]) -> list[FileResult]:
        removed = []
        with self.database.session() as session:
            repository = DocumentRepository(session)
            for document in repository.under(folder):
                if document.source_path in present:
                    continue
                self.store.delete_document(document.id)
                repository.delete(document)
                removed.append(
                    FileResult(document.source_path, Outcome.DELETED, 0, None, document.id)
                )
        return removed

    def delete_document(self, document_id: str) -> bool:
        with self.database.session() as session:
            repository = DocumentRepository(session)
            document = repository.get(document_id)
            if document is None:
                return False
            self.store.delete_document(document.id)
            repository.delete(document)
            return True


def _unchanged_by_stat(document: Document, size: int, mtime: float) -> bool:
    return (
        document.status == DocumentStatus.INDEXED
        and document.size == size
        and document.mtime == mtime
    )
