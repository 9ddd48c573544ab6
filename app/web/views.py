"""What the pages show, built from the service layer's objects (no logic in templates)."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from markupsafe import Markup
from sqlalchemy import select

from app.library import Library
from app.web.highlight import highlight, query_terms, snippet_around
from enclave.db import Database, Document, Source
from enclave.db.documents import in_groups
from enclave.db.jobs import SourceRepository
from enclave.vectorstore import Hit


def file_url(document_id: str, file_type: str, page: int | None) -> str:
    """The original file; PDFs open at the cited page where the browser's viewer can."""
    url = f"/api/documents/{document_id}/file"
    return f"{url}#page={page}" if page and file_type == "pdf" else url


def human_size(size: int) -> str:
    value = float(size)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} B"


def day(moment: datetime | float | None) -> str:
    if moment is None or moment == 0:
        return ""
    if isinstance(moment, float | int):
        moment = datetime.fromtimestamp(moment, UTC)
    return moment.strftime("%Y-%m-%d")


def when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M") if moment else ""


@dataclass(frozen=True)
class ResultView:
    n: int
    document_id: str
    title: str
    source: str
    page: int | None
    heading: str
    snippet: Markup
    file_type: str
    date: str
    url: str


def result_views(hits: list[Hit], query: str, library: Library) -> list[ResultView]:
    """Search hits as shown: a snippet around the matched terms, highlighted; the file's date
    from the documents table (the hit does not carry it)."""
    terms = query_terms(query)
    documents: dict[str, Document | None] = {}
    for hit in hits:
        if hit.document_id not in documents:
            documents[hit.document_id] = library.document(hit.document_id)
    views = []
    for n, hit in enumerate(hits, start=1):
        document = documents[hit.document_id]
        views.append(
            ResultView(
                n=n,
                document_id=hit.document_id,
                title=hit.title or Path(hit.source).name,
                source=hit.source,
                page=hit.page,
                heading=hit.heading if hit.heading != hit.title else "",
                snippet=highlight(snippet_around(hit.text, terms), terms),
                file_type=hit.file_type,
                date=day(document.mtime) if document else "",
                url=file_url(hit.document_id, hit.file_type, hit.page),
            )
        )
    return views


def facets(database: Database, groups: Sequence[str] | None = None) -> dict[str, Any]:
    """The choices offered by the filters: source names and file types in the library (of
    the sources and documents visible to `groups`; None: all)."""
    with database.session() as session:
        query = select(Document.file_type).where(Document.file_type != "")
        if groups is not None:
            query = query.where(in_groups(session, groups))
        types = session.scalars(query.distinct()).all()
    sources = sources_by_id(database, groups).values()
    return {"sources": [s.name for s in sources], "file_types": sorted(types)}


def sources_by_id(database: Database, groups: Sequence[str] | None = None) -> dict[str, Source]:
    """Sources by id; with `groups`, only those sharing one of them."""
    with database.session() as session:
        return {
            s.id: s
            for s in SourceRepository(session).list()
            if groups is None or not set(groups).isdisjoint(s.groups or [])
        }
