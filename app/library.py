"""The document library: uploads, listing, deleting and fetching documents, and job progress.
Shared by the JSON API and the pages; everything here is blocking (call it off the loop)."""

import re
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.answering.source_paths import SourcePaths
from enclave.db import Database, Document, Job, Source
from enclave.db.documents import DocumentFilter, DocumentRepository, in_groups
from enclave.db.jobs import JobRepository, SourceRepository
from enclave.index import DocumentIndex
from enclave.queue import enqueue_reindex, enqueue_upload
from enclave.settings import Settings

UPLOAD_SOURCE = "uploads"
# Restricted callers' own upload sources live in uploads/_groups/<groups>/<name>: `_` never
# occurs in a slug, so no source named by anyone can have, or contain, these folders.
NAMESPACES = "_groups"
MAX_SOURCE_NAME = 100
_UNSAFE = re.compile(r"[^\w.\- ()+,]")


class UploadRejected(ValueError):
    """The upload cannot be taken; the message says why (a 4xx for the client)."""


class FileTooLarge(UploadRejected):
    pass


class UploadForbidden(UploadRejected):
    """The caller may not add files to that source (a 403)."""


class CannotReindex(ValueError):
    """The document's file cannot be indexed again; the message says why (a 409)."""


# `groups` arguments below: the caller's access groups (app/security Principal.groups); None
# means every group. A document outside them is treated exactly like a missing one.
Groups = Sequence[str] | None


def _visible(document: Document | None, groups: Groups) -> Document | None:
    if document is None or groups is None:
        return document
    return document if not set(groups).isdisjoint(document.groups or []) else None


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
    """The canonical folder name of an upload source: lower-case letters, digits and `-`.
    Names that differ only in case, spaces or punctuation share one slug, hence one folder,
    so ownership is decided on the slug's folder, never on the name as typed."""
    cleaned = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
    if not cleaned:
        raise UploadRejected(f"unusable source name: {name!r}")
    return cleaned[:64]


def check_source_name(name: str) -> str:
    name = name.strip()
    if len(name) > MAX_SOURCE_NAME:
        raise UploadRejected(f"the source name is longer than {MAX_SOURCE_NAME} characters")
    if any(ord(c) < 32 for c in name):
        raise UploadRejected("the source name contains control characters")
    slug(name)
    return name


@dataclass(frozen=True)
class UploadTarget:
    name: str  # the source's name in the database
    folder: Path  # its canonical folder: unique among sources (migration 0008)
    existing: Source | None


class Library:
    def __init__(
        self,
        settings: Settings,
        database: Database,
        ingestor: DocumentIndex,
        paths: SourcePaths | None = None,
    ) -> None:
        self.settings = settings
        self.database = database
        self.ingestor = ingestor
        self.uploads_root = (settings.data_dir / "uploads").resolve()
        self.paths = paths or SourcePaths(database)

    # --- uploads ----------------------------------------------------------------------------

    def upload(
        self,
        files: Sequence[IncomingFile],
        source_name: str | None,
        groups: list[str] | None,
        caller_groups: Groups = None,
    ) -> UploadReceipt:
        """Store the files and queue their ingestion.

        A restricted caller (`caller_groups`) adds files to a named upload source only when
        it holds every group of that source; any other name, whether a source of that name
        exists or not, becomes a source of the caller's own (`<groups>/<name>`, in a folder
        under `_groups/`). So an upload never overwrites, or changes the access of, another
        group's files, and the reply is the same whether or not a source the caller cannot
        see has that name."""
        if not files:
            raise UploadRejected("no files in the upload (send them as multipart field 'files')")
        names = [safe_filename(f.filename) for f in files]
        if len(set(names)) != len(names):
            raise UploadRejected("two uploaded files have the same name")
        name = check_source_name(source_name) if source_name else None
        with self.database.session() as session:
            target = self._target(session, name, groups, caller_groups)
        folder = target.folder
        folder.mkdir(parents=True, exist_ok=True)
        paths = [
            self._store(f, self._free_path(folder / n, caller_groups))
            for f, n in zip(files, names, strict=True)
        ]
        inherited = target.existing.groups if target.existing else None
        with self.database.session() as session:
            source = SourceRepository(session).register(
                target.name, str(folder), groups or inherited or self.settings.default_groups
            )
        job_id = enqueue_upload(self.database, source, paths)
        return UploadReceipt(job_id, target.name, paths)

    def _target(
        self, session: Session, name: str | None, groups: list[str] | None, caller: Groups
    ) -> UploadTarget:
        sources = SourceRepository(session)
        wanted = name or _default_source(groups, caller)
        folder = self.uploads_root / slug(wanted)
        existing = sources.by_root(str(folder)) or sources.by_name(wanted)
        held = set(caller) if caller is not None else None
        if held is None or (existing is not None and set(existing.groups) <= held):
            if existing is None:
                return UploadTarget(wanted, folder, None)
            if not Path(existing.root).is_relative_to(self.uploads_root):
                raise UploadRejected(
                    f"source '{wanted}' is a synced folder; upload into another source name"
                )
            return UploadTarget(existing.name, Path(existing.root), existing)
        # The caller's own namespace, named by the groups the files get (all held by it).
        owners = sorted(groups or held)
        qualified = f"{'+'.join(owners)}/{wanted}"
        folder = self.uploads_root / NAMESPACES / slug("-".join(owners)) / slug(wanted)
        existing = sources.by_root(str(folder))
        if existing is not None and not set(existing.groups) <= held:
            # Only an administrator's later regrouping gets here: refuse, revealing nothing.
            raise UploadForbidden(f"you may not add files to source '{qualified}'")
        return UploadTarget(existing.name if existing else qualified, folder, existing)

    def _free_path(self, target: Path, caller: Groups) -> Path:
        """`target`, unless it is the file of a document the caller cannot see: then the
        first free `name (n).ext`, so that document's bytes are never replaced."""
        if caller is None:
            return target
        with self.database.session() as session:
            documents = DocumentRepository(session)
            candidate, n = target, 1
            while candidate.exists():
                document = documents.by_path(str(candidate))
                if document is None or _visible(document, caller) is not None:
                    return candidate
                n += 1
                candidate = target.with_name(f"{target.stem} ({n}){target.suffix}")
            return candidate

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

    def document(self, document_id: str, groups: Groups = None) -> Document | None:
        with self.database.session() as session:
            return _visible(DocumentRepository(session).get(document_id), groups)

    def visible_ids(self, document_ids: Sequence[str], groups: Groups) -> set[str]:
        """Which of `document_ids` exist and are visible to `groups`."""
        with self.database.session() as session:
            query = select(Document.id).where(Document.id.in_(list(set(document_ids))))
            if groups is not None:
                query = query.where(in_groups(session, groups))
            return set(session.scalars(query))

    def set_groups(self, document_id: str, new: Sequence[str], groups: Groups = None) -> bool:
        """Change who may see a document (and its attachments): the database rows and the
        chunks' payload in the store, without re-embedding. False when not visible."""
        with self.database.session() as session:
            repository = DocumentRepository(session)
            document = _visible(repository.get(document_id), groups)
            if document is None:
                return False
            for each in [document, *repository.children(document.id)]:
                each.groups, each.groups_pinned = list(new), True
                self.ingestor.store.set_groups(each.id, list(new))
        return True

    def delete(self, document_id: str, groups: Groups = None) -> bool:
        """Remove from the index and the database; an uploaded file is deleted too (a synced
        folder's file stays where it is, and comes back with the next sync)."""
        document = self.document(document_id, groups)
        if document is None or not self.ingestor.delete_document(document_id):
            return False
        path = Path(document.source_path)
        if path.is_relative_to(self.uploads_root):
            path.unlink(missing_ok=True)
        return True

    def reindex(self, document_id: str, groups: Groups = None) -> str | None:
        """Queue a job indexing the document's file again, even if unchanged (an attachment:
        its message). The job's id; None when the document is not visible."""
        with self.database.session() as session:
            repository = DocumentRepository(session)
            document = _visible(repository.get(document_id), groups)
            if document is None:
                return None
            owner = repository.get(document.parent_id) if document.parent_id else document
            source_id = owner.source_id if owner else None
            source = SourceRepository(session).get(source_id) if source_id else None
            if owner is None or source is None:
                raise CannotReindex("this document belongs to no source any more")
            path = Path(owner.source_path)
        if not path.is_file():
            raise CannotReindex(
                f"its file is gone ({path.name}): the next sync of its folder removes it"
            )
        return enqueue_reindex(self.database, source, [path])

    def original(self, document_id: str, groups: Groups = None) -> Path | None:
        document = self.document(document_id, groups)
        if document is None:
            return None
        path = Path(document.source_path)
        return path if path.is_file() else None

    # --- jobs ---------------------------------------------------------------------------------

    def job(
        self, job_id: str, groups: Groups = None
    ) -> tuple[Job, dict[str, int], list[tuple[str, str]]] | None:
        with self.database.session() as session:
            repository = JobRepository(session)
            job = repository.get(job_id)
            if job is None or not self._job_visible(session, job, groups):
                return None
            errors = [(f.path, f.error or "") for f in job.files if f.outcome == "failed"]
            return job, repository.totals(job_id), errors

    def jobs(self, limit: int, groups: Groups = None) -> list[Job]:
        """Recent jobs; for a restricted caller, those of sources sharing one of its groups
        (a job names its files)."""
        with self.database.session() as session:
            jobs = JobRepository(session).list(limit=limit if groups is None else 10 * limit)
            return [j for j in jobs if self._job_visible(session, j, groups)][:limit]

    @staticmethod
    def _job_visible(session: Session, job: Job, groups: Groups) -> bool:
        if groups is None:
            return True
        source = SourceRepository(session).get(job.source_id)
        return source is not None and not set(groups).isdisjoint(source.groups or [])


def _default_source(groups: Sequence[str] | None, caller_groups: Groups) -> str:
    """'uploads' for an unrestricted caller; 'uploads-<groups>' otherwise."""
    if caller_groups is None or not groups:
        return UPLOAD_SOURCE
    return f"{UPLOAD_SOURCE}-{'-'.join(sorted(groups))}"
