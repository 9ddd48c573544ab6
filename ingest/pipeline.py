"""The per-file ingestion pipeline: parse → chunk → embed → upsert → record.

`Ingestor.ingest_file` brings one file's chunks in line with its current content:
- unchanged files are skipped without parsing (size + mtime, then the content hash);
- a changed file's points are overwritten in place (deterministic ids), then the points
  left over from a longer previous version are deleted — after the call no query sees the
  old and new versions together;
- a file that cannot be read is recorded as failed with its reason, and its old chunks are
  taken out (the index must not answer from a version that no longer exists).
Jobs (ingest/worker.py) decide which files to pass here and which documents have vanished.

What passes between the steps (a file's state, its pending work, its prepared chunks, its
result) is ingest/files.py. This module stays a little over 400 lines because `Ingestor` is
one class whose steps share its state and its invariants about what a query may see
mid-file; they read best in the order they run.
"""

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path

from enclave.db import Database, Document, DocumentStatus, Source
from enclave.db.documents import DocumentRepository
from enclave.embedder import Embedder, Vectors
from enclave.settings import Settings
from enclave.vectorstore import ChunkRecord, VectorStore
from ingest.acl import AclError, folder_groups
from ingest.chunking import Chunk, chunk_document
from ingest.files import (
    FileResult,
    FileState,
    Outcome,
    Pending,
    Prepared,
    PreparedPart,
    attachment_path,
    file_digest,
)
from ingest.parsers import (
    DEFAULT_MAX_BYTES,
    ParsedPart,
    ParseError,
    document_title,
    parse_file,
)


class Ingestor:
    def __init__(
        self,
        database: Database,
        store: VectorStore,
        embedder: Embedder,
        *,
        max_chunk_tokens: int,
        default_groups: Sequence[str] = ("public",),
        max_file_bytes: int = DEFAULT_MAX_BYTES,
    ) -> None:
        self.database = database
        self.store = store
        self.embedder = embedder
        self.max_chunk_tokens = min(max_chunk_tokens, embedder.max_tokens)
        self.default_groups = list(default_groups)
        self.max_file_bytes = max_file_bytes
        store.ensure_collection(embedder.dimension)

    @classmethod
    def from_settings(
        cls, settings: Settings, database: Database, store: VectorStore, embedder: Embedder
    ) -> "Ingestor":
        return cls(
            database,
            store,
            embedder,
            max_chunk_tokens=settings.chunk_max_tokens,
            default_groups=settings.default_groups,
            max_file_bytes=int(settings.max_file_mb * 1024 * 1024),
        )

    def ingest_file(self, path: Path, source: Source | None = None) -> list[FileResult]:
        """Check, parse and index one file in this process. The file's own result is last;
        email attachments come before it as documents of their own."""
        checked = self.check(path, source)
        if isinstance(checked, FileResult):
            return [checked]
        return self.index(checked, self.parse(checked), source)

    def check(
        self, path: Path, source: Source | None = None, *, force: bool = False
    ) -> "FileResult | Pending":
        """Decide without parsing: unchanged (size + mtime, then the content hash) → its
        result, with its access groups brought up to date; otherwise what indexing needs.
        `force` indexes an unchanged file again. Unreadable → a failure result."""
        known = self._known(str(path))
        try:
            groups = self.groups_for(path, source, known)
        except AclError as error:
            # Fail closed: no groups, so no restricted caller sees even the failure.
            return self._record_failure(str(path), path, str(error), source, groups=[])
        try:
            stat = path.stat()
            state = FileState(path, stat.st_size, stat.st_mtime)
            # A duplicate whose groups changed is checked again: its original must share them.
            if known and known.duplicate_of and list(known.groups) != groups:
                force = True
            if known and not force and _unchanged_by_stat(known, state):
                return self._unchanged(known, source, groups)
            digest = file_digest(path)
        except OSError as error:
            return self._record_failure(str(path), path, f"cannot read: {error}", source, groups)
        indexed = known is not None and known.status == DocumentStatus.INDEXED
        if known and indexed and not force and known.content_hash == digest:
            return self._unchanged(known, source, groups, state)
        pending = Pending(state, digest, known.id if known else None, indexed, groups)
        with self.database.session() as session:
            original = DocumentRepository(session).original_with_hash(digest, str(path), groups)
            original_id = original.id if original else None
        if original_id is not None:
            return self._mark_duplicate(pending, original_id, source)
        return pending

    def parse(self, pending: Pending) -> "list[ParsedPart] | ParseError":
        """Parse in this process (the worker uses a process pool instead)."""
        try:
            return parse_file(pending.state.path, max_bytes=self.max_file_bytes)
        except ParseError as error:
            return error

    def index(
        self, pending: Pending, parsed: "list[ParsedPart] | ParseError", source: Source | None
    ) -> list[FileResult]:
        """Chunk, embed and write one parsed file (the worker batches several instead)."""
        prepared = self.prepare(pending, parsed)
        return self.write(prepared, self.embedder.embed_documents(prepared.texts), source)

    def prepare(self, pending: Pending, parsed: "list[ParsedPart] | ParseError") -> "Prepared":
        """Chunk every part of a parsed file: pure computation, nothing is written yet."""
        if isinstance(parsed, ParseError):
            return Prepared(pending, [], str(parsed))
        path = pending.state.path
        parts = []
        # Attachments first, the file itself last: its row (with the new hash) is written
        # last, so a crash before it leaves the file marked for re-indexing.
        for part in [*parsed[1:], parsed[0]]:
            is_main = part is parsed[0]
            title = part.title or document_title(part.elements, path)
            chunks = [] if part.error else chunk_document(
                part.elements, title, self.embedder, self.max_chunk_tokens
            )  # fmt: skip
            document_path = str(path) if is_main else attachment_path(str(path), part.name)
            parts.append(PreparedPart(document_path, title, chunks, part.error, is_main))
        return Prepared(pending, parts)

    def write(
        self, prepared: "Prepared", vectors: Vectors, source: Source | None
    ) -> list[FileResult]:
        """Store a prepared file's chunks with their vectors (in `prepared.texts` order)."""
        pending, path = prepared.pending, prepared.pending.state.path
        if prepared.error is not None:
            return [self._record_failure(str(path), path, prepared.error, source, pending.groups)]
        parent_id = self._ensure_document(str(path), source, pending.groups)
        results: list[FileResult] = []
        offset = 0
        for part in prepared.parts:
            part_vectors = vectors[offset : offset + len(part.chunks)]
            offset += len(part.chunks)
            if part.is_main:
                self._drop_children(parent_id, keep={r.path for r in results})
            results.append(
                self._write_part(
                    part, part_vectors, pending, source, None if part.is_main else parent_id
                )
            )
        outcome = results[-1]
        self._release_duplicates(outcome.document_id)
        if outcome.status != Outcome.FAILED:
            status = Outcome.UPDATED if pending.was_indexed else Outcome.ADDED
            results[-1] = FileResult(
                outcome.path, status, outcome.chunks, None, outcome.document_id
            )
        return results

    def _write_part(
        self,
        part: "PreparedPart",
        vectors: Vectors,
        pending: Pending,
        source: Source | None,
        parent_id: str | None,
    ) -> FileResult:
        path, document_path, title, chunks = (
            pending.state.path,
            part.document_path,
            part.title,
            part.chunks,
        )
        groups = pending.groups
        if part.error:
            return self._record_failure(document_path, path, part.error, source, groups, parent_id)
        if not chunks:
            reason = "no text could be extracted (empty, or a scan without a text layer)"
            return self._record_failure(document_path, path, reason, source, groups, parent_id)
        with self.database.session() as session:
            repository = DocumentRepository(session)
            document = repository.by_path(document_path) or repository.add(
                Document(source_path=document_path)
            )
            document.groups = list(groups)
            document.source_id = source.id if source else document.source_id
            document.parent_id = parent_id
            document.duplicate_of = None
            # Points first, then the row: a crash in between leaves a row that still says
            # "re-index me" (old hash), never a row that claims chunks the index lacks.
            records = [
                _record(document, title, chunk, path, source, pending.state.mtime)
                for chunk in chunks
            ]
            self.store.upsert(records, vectors)
            self.store.delete_chunks_from(document.id, len(chunks))
            document.title = title
            document.file_type = _file_type(Path(document_path))
            document.content_hash = pending.digest
            document.size, document.mtime = pending.state.size, pending.state.mtime
            document.status = DocumentStatus.INDEXED
            document.error = None
            document.chunk_count = len(chunks)
            document.indexed_at = datetime.now(UTC)
            return FileResult(document_path, Outcome.ADDED, len(chunks), None, document.id)

    def _known(self, source_path: str) -> Document | None:
        with self.database.session() as session:
            return DocumentRepository(session).by_path(source_path)

    def groups_for(
        self, path: Path, source: Source | None, known: Document | None = None
    ) -> list[str]:
        """A file's access groups: those an administrator pinned, else its folder's
        `.enclave-acl`, else its source's, else the default. AclError when the nearest
        `.enclave-acl` cannot be used."""
        if known is not None and known.groups_pinned:
            return list(known.groups)
        if source is not None:
            acl = folder_groups(path, Path(source.root))
            if acl is not None:
                return acl
        return list(source.groups) if source and source.groups else self.default_groups

    def _ensure_document(
        self, document_path: str, source: Source | None, groups: Sequence[str]
    ) -> str:
        with self.database.session() as session:
            repository = DocumentRepository(session)
            document = repository.by_path(document_path) or repository.add(
                Document(source_path=document_path, groups=list(groups))
            )
            document.source_id = source.id if source else document.source_id
            return document.id

    def _unchanged(
        self,
        known: Document,
        source: Source | None,
        groups: Sequence[str],
        state: FileState | None = None,
    ) -> FileResult:
        """Same content: refresh size/mtime (so the next run takes the fast path), the
        owning source and the access groups (the source's or an `.enclave-acl` may have
        changed: the chunks' payload follows, without re-embedding)."""
        regrouped = False
        with self.database.session() as session:
            repository = DocumentRepository(session)
            document = repository.get(known.id)
            if document is not None:
                if state is not None:
                    document.size, document.mtime = state.size, state.mtime
                if source is not None:
                    document.source_id = source.id
                if list(document.groups) != list(groups):
                    regrouped = True
                    for each in [document, *repository.children(document.id)]:
                        each.groups = list(groups)
                        self.store.set_groups(each.id, list(groups))
        if regrouped:  # its duplicates kept their groups: they are indexed on their own
            self._release_duplicates(known.id)
        return FileResult(known.source_path, Outcome.UNCHANGED, known.chunk_count, None, known.id)

    def _record_failure(
        self,
        document_path: str,
        path: Path,
        reason: str,
        source: Source | None,
        groups: Sequence[str],
        parent_id: str | None = None,
    ) -> FileResult:
        """Mark the document failed and take its chunks (and its attachments) out: the index
        must not answer from a version of the file that no longer exists."""
        with self.database.session() as session:
            repository = DocumentRepository(session)
            document = repository.by_path(document_path) or repository.add(
                Document(source_path=document_path)
            )
            document.groups = list(groups)
            self.store.delete_document(document.id)
            document.source_id = source.id if source else document.source_id
            document.parent_id = parent_id
            document.duplicate_of = None
            document.status = DocumentStatus.FAILED
            document.error = reason
            document.chunk_count = 0
            document.content_hash = None
            document.file_type = _file_type(Path(document_path))
            document.title = document.title or Path(document_path).name
            document_id = document.id
        if parent_id is None:
            self._drop_children(document_id, keep=set())
            self._release_duplicates(document_id)
        return FileResult(document_path, Outcome.FAILED, 0, reason, document_id)

    def _mark_duplicate(
        self, pending: Pending, original_id: str, source: Source | None
    ) -> FileResult:
        """Same bytes as an indexed document under another path: list this path too, but
        store and embed the chunks once (under the original)."""
        path = str(pending.state.path)
        with self.database.session() as session:
            repository = DocumentRepository(session)
            original = repository.get(original_id)
            assert original is not None
            document = repository.by_path(path) or repository.add(Document(source_path=path))
            document.groups = list(pending.groups)
            self.store.delete_document(document.id)
            document.source_id = source.id if source else document.source_id
            document.duplicate_of = original.id
            document.title = original.title
            document.file_type = _file_type(pending.state.path)
            document.content_hash = pending.digest
            document.size, document.mtime = pending.state.size, pending.state.mtime
            document.status = DocumentStatus.INDEXED
            document.error = None
            document.chunk_count = 0
            document.indexed_at = datetime.now(UTC)
            document_id = document.id
        self._drop_children(document_id, keep=set())
        self._release_duplicates(document_id)
        status = Outcome.UPDATED if pending.was_indexed else Outcome.ADDED
        return FileResult(path, status, 0, None, document_id)

    def _release_duplicates(self, document_id: str | None) -> None:
        """The document's content changed or it is gone: files that were duplicates of it are
        indexed on their own (the first becomes the original of the others)."""
        if document_id is None:
            return
        with self.database.session() as session:
            repository = DocumentRepository(session)
            released = []
            for duplicate in repository.duplicates_of(document_id):
                duplicate.duplicate_of = None
                duplicate.content_hash = None
                duplicate.mtime = 0.0
                duplicate.status = DocumentStatus.PENDING
                source = session.get(Source, duplicate.source_id) if duplicate.source_id else None
                released.append((Path(duplicate.source_path), source))
        for path, source in released:
            self.ingest_file(path, source)

    def _drop_children(self, parent_id: str, keep: set[str]) -> None:
        with self.database.session() as session:
            repository = DocumentRepository(session)
            for child in repository.children(parent_id):
                if child.source_path not in keep:
                    self.store.delete_document(child.id)
                    repository.delete(child)

    def documents_under(self, source: Source, where: Callable[[Path], bool]) -> set[str]:
        """Paths of the source's documents whose file `where` accepts."""
        with self.database.session() as session:
            documents = DocumentRepository(session).of_source(source.id)
            return {d.source_path for d in documents if where(Path(d.source_path))}

    def remove_vanished(self, source: Source, present: set[str]) -> list[FileResult]:
        """Delete the source's documents whose file is no longer among `present`."""
        gone = []
        with self.database.session() as session:
            for document in DocumentRepository(session).of_source(source.id):
                if document.source_path not in present:
                    gone.append((document.id, document.source_path))
        for document_id, _ in gone:
            self.delete_document(document_id)
        return [FileResult(p, Outcome.DELETED, 0, None, i) for i, p in gone]

    def delete_document(self, document_id: str) -> bool:
        """Remove a document, and its attachments, from the index and the database."""
        with self.database.session() as session:
            repository = DocumentRepository(session)
            document = repository.get(document_id)
            if document is None:
                return False
            for child in repository.children(document.id):
                self.store.delete_document(child.id)
                repository.delete(child)
            self.store.delete_document(document.id)
            # Its duplicates must not find it as their original while they are re-indexed.
            document.content_hash = None
            document.status = DocumentStatus.PENDING
        self._release_duplicates(document_id)
        with self.database.session() as session:
            repository = DocumentRepository(session)
            document = repository.get(document_id)
            if document is not None:
                repository.delete(document)
        return True


def _record(
    document: Document,
    title: str,
    chunk: Chunk,
    path: Path,
    source: Source | None,
    modified: float,
) -> ChunkRecord:
    return ChunkRecord(
        document_id=document.id,
        ordinal=chunk.ordinal,
        text=chunk.text,
        title=title,
        source=str(path),
        page=chunk.page,
        heading=chunk.heading,
        file_type=_file_type(path),
        groups=list(document.groups),  # never widened: no groups, no restricted reader
        source_name=source.name if source else "",
        modified=modified,
    )


def _file_type(path: Path) -> str:
    return path.suffix.lower().lstrip(".")


def _unchanged_by_stat(document: Document, state: FileState) -> bool:
    return (
        document.status == DocumentStatus.INDEXED
        and document.size == state.size
        and document.mtime == state.mtime
    )
