"""The library page: documents with their status, and uploads (drag-and-drop or the file
picker with app/static/library.js; a plain form post without JavaScript).
Only documents sharing one of the caller's groups are listed; uploading and deleting need the
'ingest' scope."""

import asyncio
from pathlib import Path
from typing import Annotated, Any

from litestar import Controller, get, post
from litestar.enums import RequestEncodingType
from litestar.exceptions import NotFoundException
from litestar.params import Body, Parameter
from litestar.response import Redirect, Template

from app.api.documents import UPLOAD_BODY_LIMIT, UPLOAD_ERRORS, UploadForm
from app.library import CannotReindex, IncomingFile, Library, UploadRejected
from app.security.auth import requires
from app.security.routes import audited
from app.web.views import human_size, sources_by_id, when
from enclave.access.principal import AccessDenied, Principal
from enclave.db import DocumentStatus
from enclave.db.documents import DocumentFilter

PAGE_SIZE = 50


class LibraryPage(Controller):
    path = "/library"
    include_in_schema = False

    @get(sync_to_thread=True, guards=[requires("search")])
    def library(
        self,
        library: Library,
        principal: Principal,
        status: DocumentStatus | None = None,
        q: Annotated[str, Parameter(max_length=200)] = "",
        page: Annotated[int, Parameter(ge=1, le=100_000)] = 1,
        error: Annotated[str, Parameter(max_length=500)] = "",
    ) -> Template:
        documents, total = library.documents(
            DocumentFilter(
                status,
                None,
                None,
                q.strip() or None,
                PAGE_SIZE,
                (page - 1) * PAGE_SIZE,
                principal.groups,
            )
        )
        sources = sources_by_id(library.database, principal.groups)
        rows = [
            {
                "id": d.id,
                "title": d.title or d.source_path.rsplit("/", 1)[-1],
                "path": _relative(d.source_path, sources[d.source_id].root)
                if d.source_id in sources
                else d.source_path,
                "file_type": d.file_type,
                "status": d.status.value,
                "error": d.error,
                "size": human_size(d.size),
                "chunks": d.chunk_count,
                "indexed_at": when(d.indexed_at),
                "source": sources[d.source_id].name if d.source_id in sources else "",
            }
            for d in documents
        ]
        context: dict[str, Any] = {
            "can_ingest": principal.can("ingest"),
            "documents": rows,
            "total": total,
            "page": page,
            "pages": max(1, -(-total // PAGE_SIZE)),
            "status": status.value if status else "",
            "q": q,
            "statuses": [s.value for s in DocumentStatus],
            "sources": [
                # Full folders for those who see every group (app/source_paths.py).
                {
                    "name": s.name,
                    "root": s.root if principal.groups is None else Path(s.root).name,
                    "last_synced": when(s.last_synced_at),
                }
                for s in sources.values()
            ],
            "error": error,
            "max_file_mb": library.settings.max_file_mb,
        }
        return Template("library.html", context=context)

    @post(
        "/upload",
        request_max_body_size=UPLOAD_BODY_LIMIT,
        status_code=303,
        guards=[requires("ingest")],
        exception_handlers=UPLOAD_ERRORS,
        opt=audited("upload"),
    )
    async def upload(
        self,
        library: Library,
        principal: Principal,
        data: Annotated[UploadForm, Body(media_type=RequestEncodingType.MULTI_PART)],
    ) -> Redirect:
        """Without JavaScript: upload, then follow the job's page."""
        files = [IncomingFile(f.filename or "", f.file) for f in data.files if f.filename]
        try:
            groups = principal.assignable(None, library.settings.default_groups)
            receipt = await asyncio.to_thread(
                library.upload, files, data.source or None, groups or None, principal.groups
            )
        except (UploadRejected, AccessDenied) as rejected:
            return Redirect("/library", query_params={"error": str(rejected)}, status_code=303)
        finally:
            for upload in data.files:
                await upload.close()
        return Redirect(f"/jobs/{receipt.job_id}", status_code=303)

    @post(
        "/{document_id:str}/reindex",
        sync_to_thread=True,
        status_code=303,
        guards=[requires("ingest")],
        opt=audited("reindex"),
    )
    def reindex(self, library: Library, principal: Principal, document_id: str) -> Redirect:
        """Index the file again, then follow the job's page."""
        try:
            job_id = library.reindex(document_id, principal.groups)
        except CannotReindex as error:
            return Redirect("/library", query_params={"error": str(error)}, status_code=303)
        if job_id is None:
            raise NotFoundException(f"no document {document_id}")
        return Redirect(f"/jobs/{job_id}", status_code=303)

    @post(
        "/{document_id:str}/delete",
        sync_to_thread=True,
        status_code=303,
        guards=[requires("ingest")],
        opt=audited("delete"),
    )
    def delete(self, library: Library, principal: Principal, document_id: str) -> Redirect:
        if not library.delete(document_id, principal.groups):
            raise NotFoundException(f"no document {document_id}")
        return Redirect("/library", status_code=303)


def _relative(path: str, root: str) -> str:
    """The path inside its source's folder (the folder is listed under Sources)."""
    prefix = root.rstrip("/") + "/"
    return path.removeprefix(prefix) if path.startswith(prefix) else path
