"""Queries on the documents table, kept out of the pipeline and the handlers."""

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import ColumnElement, exists, false, func, select
from sqlalchemy.orm import Session

from enclave.db.models import Document, DocumentStatus


@dataclass(frozen=True)
class DocumentFilter:
    status: DocumentStatus | None = None
    source_id: str | None = None
    file_type: str | None = None
    text: str | None = None  # in the title or the path
    limit: int = 50
    offset: int = 0
    groups: Sequence[str] | None = None  # only documents with one of these; None: all


def in_groups(session: Session, groups: Sequence[str]) -> ColumnElement[bool]:
    """Documents whose JSON `groups` share one of `groups`, tested in SQL (so counts and
    pages never include others)."""
    if not groups:
        return false()
    expand = (
        func.json_array_elements_text
        if session.get_bind().dialect.name == "postgresql"
        else func.json_each
    )
    values = expand(Document.groups).table_valued("value")
    return exists(select(1).select_from(values).where(values.c.value.in_(list(groups))))


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

    def of_source(self, source_id: str) -> Sequence[Document]:
        """The source's files (attachments are reached through their parent)."""
        return self.session.scalars(
            select(Document).where(Document.source_id == source_id, Document.parent_id.is_(None))
        ).all()

    def original_with_hash(
        self, content_hash: str, other_than: str, groups: Sequence[str]
    ) -> Document | None:
        """An indexed, stand-alone document with this content under another path and the
        same access groups (its chunks, which carry them, serve both)."""
        candidates = self.session.scalars(
            select(Document)
            .where(
                Document.content_hash == content_hash,
                Document.source_path != other_than,
                Document.status == DocumentStatus.INDEXED,
                Document.parent_id.is_(None),
                Document.duplicate_of.is_(None),
            )
            .order_by(Document.created_at)
        )
        wanted = sorted(groups)
        return next((d for d in candidates if sorted(d.groups) == wanted), None)

    def duplicates_of(self, document_id: str) -> Sequence[Document]:
        return self.session.scalars(
            select(Document).where(Document.duplicate_of == document_id)
        ).all()

    def children(self, parent_id: str) -> Sequence[Document]:
        return self.session.scalars(select(Document).where(Document.parent_id == parent_id)).all()

    def page(self, limit: int = 100, offset: int = 0) -> Sequence[Document]:
        return self.session.scalars(
            select(Document).order_by(Document.source_path).limit(limit).offset(offset)
        ).all()

    def search(self, filters: DocumentFilter) -> tuple[list[Document], int]:
        """A page of documents matching `filters`, and how many match in all."""
        query = select(Document)
        if filters.groups is not None:
            query = query.where(in_groups(self.session, filters.groups))
        if filters.status is not None:
            query = query.where(Document.status == filters.status)
        if filters.source_id:
            query = query.where(Document.source_id == filters.source_id)
        if filters.file_type:
            query = query.where(Document.file_type == filters.file_type.lower().lstrip("."))
        if filters.text:
            pattern = f"%{filters.text.lower()}%"
            query = query.where(
                func.lower(Document.title).like(pattern)
                | func.lower(Document.source_path).like(pattern)
            )
        total = self.session.scalar(select(func.count()).select_from(query.subquery())) or 0
        page = self.session.scalars(
            query.order_by(Document.source_path).limit(filters.limit).offset(filters.offset)
        ).all()
        return list(page), total

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
