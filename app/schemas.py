"""Request and response shapes of the JSON API (msgspec structs: validated and documented)."""

from datetime import datetime
from typing import Annotated

import msgspec

from app.answers import Answer, Timing
from app.prompting import Citation, snippet
from enclave.db import Document, Job
from enclave.vectorstore import Hit

NonBlank = Annotated[str, msgspec.Meta(min_length=1, description="Text to search or ask.")]


class SearchResult(msgspec.Struct):
    chunk_id: str
    document_id: str
    title: str
    source: str
    page: int | None
    heading: str
    text: str
    score: float

    @classmethod
    def from_hit(cls, hit: Hit) -> "SearchResult":
        return cls(
            hit.chunk_id, hit.document_id, hit.title, hit.source, hit.page, hit.heading,
            hit.text, round(hit.score, 4),
        )  # fmt: skip


class SearchResponse(msgspec.Struct):
    query: str
    results: list[SearchResult]


class AskRequest(msgspec.Struct, forbid_unknown_fields=True):
    question: NonBlank
    k: Annotated[int, msgspec.Meta(ge=1)] | None = None
    stream: bool = False


class CitationOut(msgspec.Struct):
    n: int
    document_id: str
    title: str
    source: str
    page: int | None
    snippet: str

    @classmethod
    def from_citation(cls, c: Citation) -> "CitationOut":
        return cls(c.n, c.document_id, c.title, c.source, c.page, c.snippet)


class TimingOut(msgspec.Struct):
    retrieval_ms: float
    first_token_ms: float | None
    total_ms: float | None
    tokens: int

    @classmethod
    def from_timing(cls, t: Timing) -> "TimingOut":
        return cls(t.retrieval_ms, t.first_token_ms, t.total_ms, t.tokens)


class AskResponse(msgspec.Struct):
    answer: str
    citations: list[CitationOut]
    abstained: bool
    timing: TimingOut

    @classmethod
    def from_answer(cls, answer: Answer) -> "AskResponse":
        return cls(
            answer=answer.answer,
            citations=[CitationOut.from_citation(c) for c in answer.citations],
            abstained=answer.abstained,
            timing=TimingOut.from_timing(answer.timing),
        )


class SourceOut(msgspec.Struct):
    n: int
    document_id: str
    title: str
    source: str
    page: int | None
    snippet: str
    score: float


def sources_out(passages: list[Hit]) -> list[SourceOut]:
    return [
        SourceOut(n, h.document_id, h.title, h.source, h.page, snippet(h.text), round(h.score, 4))
        for n, h in enumerate(passages, start=1)
    ]


class DocumentOut(msgspec.Struct):
    id: str
    source_path: str
    title: str
    file_type: str
    status: str
    error: str | None
    size: int
    chunk_count: int
    groups: list[str]
    source_id: str | None
    indexed_at: datetime | None
    updated_at: datetime

    @classmethod
    def from_model(cls, d: Document) -> "DocumentOut":
        return cls(
            d.id, d.source_path, d.title, d.file_type, d.status.value, d.error, d.size,
            d.chunk_count, list(d.groups or []), d.source_id, d.indexed_at, d.updated_at,
        )  # fmt: skip


class DocumentList(msgspec.Struct):
    documents: list[DocumentOut]
    total: int


class UploadOut(msgspec.Struct):
    job_id: str
    source: str
    files: list[str]


class FileErrorOut(msgspec.Struct):
    path: str
    error: str


class JobOut(msgspec.Struct):
    id: str
    kind: str
    status: str
    source_id: str
    files_total: int | None
    files_done: int
    chunks: int
    error: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    totals: dict[str, int] | None = None
    errors: list[FileErrorOut] | None = None

    @classmethod
    def from_model(
        cls, job: Job, totals: dict[str, int] | None, errors: list[tuple[str, str]] | None
    ) -> "JobOut":
        return cls(
            id=job.id,
            kind=job.kind.value,
            status=job.status.value,
            source_id=job.source_id,
            files_total=job.files_total,
            files_done=job.files_done,
            chunks=job.chunks,
            error=job.error,
            created_at=job.created_at,
            started_at=job.started_at,
            finished_at=job.finished_at,
            totals=totals,
            errors=[FileErrorOut(p, e) for p, e in errors] if errors is not None else None,
        )
