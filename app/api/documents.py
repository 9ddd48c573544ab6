"""The document library over HTTP: upload, list, show, delete, download."""

import asyncio
from dataclasses import dataclass, field
from typing import Annotated

from litestar import Controller, delete, get, post
from litestar.datastructures import UploadFile
from litestar.enums import RequestEncodingType
from litestar.exceptions import ClientException, NotFoundException
from litestar.params import Body, Parameter
from litestar.response import File

from app.library import FileTooLarge, IncomingFile, Library, UploadRejected
from app.schemas import DocumentList, DocumentOut, UploadOut
from enclave.db import DocumentStatus
from enclave.db.documents import DocumentFilter

# Uploads carry whole files; the per-file limit (ENCLAVE_MAX_FILE_MB) is checked while saving.
UPLOAD_BODY_LIMIT = 2 * 1024**3


@dataclass
class UploadForm:
    files: list[UploadFile] = field(default_factory=list)
    source: str | None = None
    groups: str | None = None


class DocumentController(Controller):
    path = "/api/documents"
    tags = ["documents"]

    @post(status_code=202, request_max_body_size=UPLOAD_BODY_LIMIT)
    async def upload(
        self,
        library: Library,
        data: Annotated[UploadForm, Body(media_type=RequestEncodingType.MULTI_PART)],
    ) -> UploadOut:
        """Upload one or more files (multipart field `files`; optional `source` and comma-
        separated `groups`). Returns the ingestion job to follow at /api/jobs/{job_id}."""
        files = [IncomingFile(f.filename or "", f.file) for f in data.files]
        groups = [g.strip() for g in data.groups.split(",") if g.strip()] if data.groups else None
        try:
            receipt = await asyncio.to_thread(library.upload, files, data.source, groups)
        except FileTooLarge as error:
            raise ClientException(str(error), status_code=413) from error
        except UploadRejected as error:
            raise ClientException(str(error)) from error
        finally:
            for upload in data.files:
                await upload.close()
        return UploadOut(
            job_id=receipt.job_id,
            source=receipt.source,
            files=[p.name for p in receipt.paths],
        )

    @get(sync_to_thread=True)
    def list_documents(
        self,
        library: Library,
        status: DocumentStatus | None = None,
        source_id: str | None = None,
        file_type: str | None = None,
        q: Annotated[str | None, Parameter(description="Text in title or path.")] = None,
        limit: Annotated[int, Parameter(ge=1, le=500)] = 50,
        offset: Annotated[int, Parameter(ge=0)] = 0,
    ) -> DocumentList:
        """Documents with their status, newest path order, filtered."""
        documents, total = library.documents(
            DocumentFilter(status, source_id, file_type, q, limit, offset)
        )
        return DocumentList(documents=[DocumentOut.from_model(d) for d in documents], total=total)

    @get("/{document_id:str}", sync_to_thread=True)
    def show(self, library: Library, document_id: str) -> DocumentOut:
        """One document, with its chunk count and any ingestion error."""
        document = library.document(document_id)
        if document is None:
            raise NotFoundException(f"no document {document_id}")
        return DocumentOut.from_model(document)

    @delete("/{document_id:str}", sync_to_thread=True)
    def remove(self, library: Library, document_id: str) -> None:
        """Remove a document from the index and the database."""
        if not library.delete(document_id):
            raise NotFoundException(f"no document {document_id}")

    @get("/{document_id:str}/file", sync_to_thread=True)
    def original(self, library: Library, document_id: str) -> File:
        """The original file."""
        path = library.original(document_id)
        if path is None:
            raise NotFoundException(f"no file for document {document_id}")
        return File(path=path, filename=path.name, content_disposition_type="inline")
