"""The document library over HTTP: upload, list, show, delete, download, change access.

Every route sees only the documents sharing one of the caller's access groups; any other
document answers 404 exactly like a missing one, so its existence does not leak."""

import asyncio
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, Response, delete, get, patch, post
from litestar.datastructures import UploadFile
from litestar.enums import RequestEncodingType
from litestar.exceptions import (
    ClientException,
    NotFoundException,
    PermissionDeniedException,
    ValidationException,
)
from litestar.exceptions.responses import create_exception_response
from litestar.params import Body, Parameter
from litestar.response import File
from litestar.types import ExceptionHandlersMap

from app.library import (
    CannotReindex,
    FileTooLarge,
    IncomingFile,
    Library,
    UploadForbidden,
    UploadRejected,
)
from app.schemas import DocumentList, DocumentOut, ReindexOut, UploadOut
from app.security.audit import note
from app.security.auth import requires
from app.security.routes import audited
from app.validation import MAX_OFFSET
from enclave.access.principal import AccessDenied, Principal
from enclave.db import Document, DocumentStatus
from enclave.db.documents import DocumentFilter

# Uploads carry whole files; the per-file limit (ENCLAVE_MAX_FILE_MB) is checked while saving.
UPLOAD_BODY_LIMIT = 2 * 1024**3


@dataclass
class UploadForm:
    files: list[UploadFile] = field(default_factory=list)
    source: str | None = None
    groups: str | None = None


class GroupsIn(msgspec.Struct, forbid_unknown_fields=True):
    groups: Annotated[list[str], msgspec.Meta(min_length=1, max_length=100)]


def upload_groups(principal: Principal, requested: str | None, defaults: list[str]) -> list[str]:
    """The groups an upload gets (a 403 for groups the caller does not hold, 400 for bad
    names)."""
    wanted = [g for g in requested.split(",")] if requested else None
    try:
        return principal.assignable(wanted, defaults)
    except AccessDenied as denied:
        raise PermissionDeniedException(str(denied)) from None
    except ValueError as error:
        raise ValidationException(str(error)) from None


# Types a browser renders without running anything of the file's: shown inline. Never HTML,
# SVG, XML or scripts: those run in this origin. (A PDF's own scripts run inside the
# browser's PDF viewer, not in the page's origin.)
INLINE_TYPES = {
    ".pdf": "application/pdf",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".webp": "image/webp",
    ".bmp": "image/bmp",
}


# Litestar answers every multipart parser limit with this bare text (litestar/_multipart.py).
_MULTIPART_LIMIT = "Request Entity Too Large"


def form_unreadable(request: Request[Any, Any, Any], exc: ClientException) -> Response[Any]:
    """Say which multipart limit an upload hit (a 5,000-character file name is one)."""
    if exc.detail == _MULTIPART_LIMIT:
        exc = ClientException(
            "The upload form could not be read: a file name or other part header is longer "
            "than 4,096 bytes, or the form has more than 1,000 parts. Rename the file with a "
            "shorter name, or upload fewer files at once."
        )
    return create_exception_response(request, exc)


# On the upload routes only: the /v1 routes shape their own errors (app/api/openai_compat.py).
UPLOAD_ERRORS: ExceptionHandlersMap = {ClientException: form_unreadable}


def _out(library: Library, principal: Principal, document: Document) -> DocumentOut:
    """Full paths for callers who see every group; relative ones for everyone else."""
    return DocumentOut.from_model(
        document, library.paths.display(document.source_path, principal.groups)
    )


def original_file(path: Path) -> File:
    """A stored original as a response that cannot script this origin, whatever it holds:
    nosniff everywhere, a sandboxing CSP (no script, no same-origin access) on everything
    but PDFs (the browser's PDF viewer refuses to run sandboxed), and every type outside
    INLINE_TYPES as an opaque download."""
    media_type = INLINE_TYPES.get(path.suffix.lower())
    headers = {"X-Content-Type-Options": "nosniff"}
    if media_type != "application/pdf":
        headers["Content-Security-Policy"] = "sandbox; default-src 'none'"
    return File(
        path=path,
        filename=path.name,
        media_type=media_type or "application/octet-stream",
        content_disposition_type="inline" if media_type else "attachment",
        headers=headers,
    )


class DocumentController(Controller):
    path = "/api/documents"
    tags = ["documents"]

    @post(
        status_code=202,
        request_max_body_size=UPLOAD_BODY_LIMIT,
        guards=[requires("ingest")],
        exception_handlers=UPLOAD_ERRORS,
        opt=audited("upload"),
    )
    async def upload(
        self,
        request: Request[Any, Any, Any],
        library: Library,
        principal: Principal,
        data: Annotated[UploadForm, Body(media_type=RequestEncodingType.MULTI_PART)],
    ) -> UploadOut:
        """Upload one or more files (multipart field `files`; optional `source` and comma-
        separated `groups`, each of which the caller must hold; by default the
        ENCLAVE_DEFAULT_GROUPS the caller holds, else the caller's first group). Returns the
        ingestion job to follow at /api/jobs/{job_id}. Needs the 'ingest' scope."""
        files = [IncomingFile(f.filename or "", f.file) for f in data.files]
        try:
            groups = upload_groups(principal, data.groups, library.settings.default_groups)
            receipt = await asyncio.to_thread(
                library.upload, files, data.source, groups or None, principal.groups
            )
        except FileTooLarge as error:
            raise ClientException(str(error), status_code=413) from error
        except UploadForbidden as error:
            raise PermissionDeniedException(str(error)) from error
        except UploadRejected as error:
            raise ClientException(str(error)) from error
        finally:
            for upload in data.files:
                await upload.close()
        note(
            request,
            job_id=receipt.job_id,
            source=receipt.source,
            files=[p.name for p in receipt.paths],
            groups=groups,
        )
        return UploadOut(
            job_id=receipt.job_id,
            source=receipt.source,
            files=[p.name for p in receipt.paths],
        )

    @get(sync_to_thread=True, guards=[requires("search")])
    def list_documents(
        self,
        library: Library,
        principal: Principal,
        status: DocumentStatus | None = None,
        source_id: str | None = None,
        file_type: str | None = None,
        q: Annotated[str | None, Parameter(description="Text in title or path.")] = None,
        limit: Annotated[int, Parameter(ge=1, le=500)] = 50,
        offset: Annotated[int, Parameter(ge=0, le=MAX_OFFSET)] = 0,
    ) -> DocumentList:
        """Documents with their status, newest path order, filtered."""
        documents, total = library.documents(
            DocumentFilter(status, source_id, file_type, q, limit, offset, principal.groups)
        )
        shown = [_out(library, principal, d) for d in documents]
        return DocumentList(documents=shown, total=total)

    @get(
        "/{document_id:str}",
        sync_to_thread=True,
        guards=[requires("search")],
        raises=[NotFoundException],
    )
    def show(self, library: Library, principal: Principal, document_id: str) -> DocumentOut:
        """One document, with its chunk count and any ingestion error."""
        document = library.document(document_id, principal.groups)
        if document is None:
            raise NotFoundException(f"no document {document_id}")
        return _out(library, principal, document)

    @delete(
        "/{document_id:str}",
        sync_to_thread=True,
        guards=[requires("ingest")],
        raises=[NotFoundException],
        opt=audited("delete"),
    )
    def remove(
        self,
        request: Request[Any, Any, Any],
        library: Library,
        principal: Principal,
        document_id: str,
    ) -> None:
        """Remove a document from the index and the database. Needs the 'ingest' scope."""
        note(request, documents=[document_id])
        if not library.delete(document_id, principal.groups):
            raise NotFoundException(f"no document {document_id}")

    @post(
        "/{document_id:str}/reindex",
        sync_to_thread=True,
        status_code=202,
        guards=[requires("ingest")],
        raises=[NotFoundException, ClientException],
        opt=audited("reindex"),
    )
    def reindex(
        self,
        request: Request[Any, Any, Any],
        library: Library,
        principal: Principal,
        document_id: str,
    ) -> ReindexOut:
        """Index the document's file again, even if unchanged (after a parser or embedding
        model change). Needs the 'ingest' scope; answers with the job to follow."""
        note(request, documents=[document_id])
        try:
            job_id = library.reindex(document_id, principal.groups)
        except CannotReindex as error:
            raise ClientException(str(error), status_code=409) from None
        if job_id is None:
            raise NotFoundException(f"no document {document_id}")
        return ReindexOut(job_id=job_id, document_id=document_id)

    @patch(
        "/{document_id:str}",
        sync_to_thread=True,
        guards=[requires("admin")],
        raises=[NotFoundException, PermissionDeniedException],
        opt=audited("permission_change"),
    )
    def change_groups(
        self,
        request: Request[Any, Any, Any],
        library: Library,
        principal: Principal,
        document_id: str,
        data: GroupsIn,
    ) -> DocumentOut:
        """Change a document's access groups (and its attachments'): its chunks in the index
        are updated in place, without re-embedding. Needs the 'admin' scope; a caller may
        only assign groups they hold."""
        groups = upload_groups(principal, ",".join(data.groups), [])
        if not groups:
            raise ValidationException("'groups' must name at least one group.")
        note(request, documents=[document_id], groups=groups)
        if not library.set_groups(document_id, groups, principal.groups):
            raise NotFoundException(f"no document {document_id}")
        document = library.document(document_id)
        assert document is not None
        return _out(library, principal, document)

    @get(
        "/{document_id:str}/file",
        sync_to_thread=True,
        guards=[requires("search")],
        raises=[NotFoundException],
    )
    def original(self, library: Library, principal: Principal, document_id: str) -> File:
        """The original file: PDFs and raster images are shown in the browser, anything else
        is a download (`Content-Disposition: attachment`, served as
        application/octet-stream), because an uploaded page or script served from this
        origin would run with the reader's session."""
        path = library.original(document_id, principal.groups)
        if path is None:
            raise NotFoundException(f"no file for document {document_id}")
        return original_file(path)
