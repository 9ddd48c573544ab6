"""The document library: uploads, listing, deleting and fetching documents, and job progress.
Shared by the JSON API and the pages; everything here is blocking (call it off the loop)."""

import re
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from enclave.db import Database, Document, Job
from enclave.db.documents import DocumentFilter, DocumentRepository
from enclave.db.jobs import JobRepository, SourceRepository
from enclave.settings import Settings
from ingest.pipeline import Ingestor
from ingest.worker import enqueue_upload

UPLOAD_SOURCE = "uploads"
_UNSAFE = re.compile(r"[^\w.\- ()+,]")


class UploadRejected(ValueError):
    """The upload cannot be taken; the message says why (a 4xx for the client)."""


class FileTooLarge(UploadRejected):
    pass


@dataclass(frozen=True)
class IncomingFile:
    filename: str
    stream: IO[bytes]


@dataclass(frozen=True)
class UploadReceipt:
    job_id: str
    source: str
    paths: list[Path]


def safe_filename(name: str) -> str:
    """The last path component, with separators, `..` and control characters removed, so an
    upload can never be written outside its folder."""
    base = name.replace("\\", "/").split("/")[-1]
    base = _UNSAFE.sub("_", base).strip(" .")
    if not base or set(base) <= {"_"}:
        raise UploadRejected(f"unusable file name: {name!r}")
    stem, dot, suffix = base.rpartition(".")
    if dot and len(suffix) <= 10:
        return f"{stem[:180]}.{suffix}"
    return base[:190]


def slug(name: str) -> str:
    cleaned = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
    if not cleaned:
        raise UploadRejected(f"unusable source name: {name!r}")
    return cleaned[:64]


class Library:
    def __init__(self, settings: Settings, database: Database, ingestor: Ingestor) -> None:
        self.settings = settings
        self.database = database
        self.ingestor = ingestor
        self.uploads_root = (settings.data_dir / "uploads").resolve()

    # --- uploads ----------------------------------------------------------------------------

    def upload(
        self, files: Sequence[IncomingFile], source_name: str | None, groups: list[str] | None
    ) -> UploadReceipt:
        if not files:
            raise UploadRejected("no files in the upload (send them as multipart field 'files')")
        name = source_name or UPLOAD_SOURCE
        folder = self.uploads_root / slug(name)
        names = [safe_filename(f.filename) for f in files]
        if len(set(names)) != len(names):
            raise UploadRejected("two uploaded files have the same name")
        with self.database.session() as session:
            existing = SourceRepository(session).by_name(name)
            if existing is not None and Path(existing.root) != folder:
                raise UploadRejected(
                    f"source '{name}' is a synced folder; upload into another source name"
                )
        folder.mkdir(parents=True, exist_ok=True)
        paths = [self._store(f, folder / n) for f, n in zip(files, names, strict=True)]
        inherited = existing.groups if existing else None
        with self.database.session() as session:
            source = SourceRepository(session).register(
                name, str(folder), groups or inherited or self.settings.default_groups
            )
        job_id = enqueue_upload(self.database, source, paths)
        return UploadReceipt(job_id, name, paths)

    def _store(self, incoming: IncomingFile, target: Path) -> Path:
        """Copy to a temporary file first, so a half-received upload never looks like a
        document; enforce the size limit while copying."""
        limit = int(self.settings.max_file_mb * 1024 * 1024)
        with tempfile.NamedTemporaryFile(dir=target.parent, delete=False) as temporary:
            copied = 0
            while block := incoming.stream.read(1 << 20):
                copied += len(block)
                if copied > limit:
                    Path(temporary.name).unlink(missing_ok=True)
                    raise FileTooLarge(
                        f"{target.name} is larger than {self.settings.max_file_mb:g} MB"
                    )
                temporary.write(block)
        Path(temporary.name).replace(target)
        return target

    # --- documents ---------------------------------------------------------------------------

    def documents(self, filters: DocumentFilter) -> tuple[list[Document], int]:
        with self.database.session() as session:
            return DocumentRepository(session).search(filters)

    def document(self, document_id: str) -> Document | None:
        with self.database.session() as session:
            return DocumentRepository(session).get(document_id)

    def delete(self, document_id: str) -> bool:
        """Remove from the index and the database; an uploaded file is deleted too (a synced
        folder's file stays where it is, and comes back with the next sync)."""
        document = self.document(document_id)
        if document is None or not self.ingestor.delete_document(document_id):
            return False
        path = Path(document.source_path)
        if path.is_relative_to(self.uploads_root):
            path.unlink(missing_ok=True)
        return True

    def original(self, document_id: str) -> Path | None:
        document = self.document(document_id)
        if document is None:
            return None
        path = Path(document.source_path)
        return path if path.is_file() else None

    # --- jobs ---------------------------------------------------------------------------------

    def job(self, job_id: str) -> tuple[Job, dict[str, int], list[tuple[str, str]]] | None:
        with self.database.session() as session:
            repository = JobRepository(session)
            job = repository.get(job_id)
            if job is None:
                return None
            errors = [(f.path, f.error or "") for f in job.files if f.outcome == "failed"]
            return job, repository.totals(job_id), errors

    def jobs(self, limit: int) -> list[Job]:
        with self.database.session() as session:
            return list(JobRepository(session).list(limit=limit))
