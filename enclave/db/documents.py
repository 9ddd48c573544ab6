"""Queries on the documents table, kept out of the pipeline and the handlers."""

from collections.abc import Sequence
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from enclave.db.models import Document, DocumentStatus


class DocumentRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def get(self, document_id: str) -> Document | None:
        return self.session.get(Document, document_id)

    def by_path(self, source_path: str) -> Document | None:
        return self.session.scalar(select(Document).where(Document.source_path == source_path))

    def under(self, root: Path) -> Sequence[Document]:
        """Documents whose source lies inside the folder `root`."""
        prefix = root.as_posix().rstrip("/") + "/"
        escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        return self.session.scalars(
            select(Document).where(Document.source_path.like(escaped + "%", escape="\\"))
        ).all()

    def list(self, limit: int = 100, offset: int = 0) -> Sequence[Document]:
        return self.session.scalars(
            select(Document).order_by(Document.source_path).limit(limit).offset(offset)
        ).all()

    def count_by_status(self) -> dict[DocumentStatus, int]:
        rows = self.session.execute(
            select(Document.status, func.count()).group_by(Document.status)
        ).all()
        return {status: count for status, count in rows}

    def add(self, document: Document) -> Document:
        self.session.add(document)
        self.session.flush()
        return document

    def delete(self, document: Document) -> None:
        self.session.delete(document)
