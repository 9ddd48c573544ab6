"""Request and response shapes of the JSON API (msgspec structs: validated and documented)."""

import dataclasses
from datetime import UTC, datetime
from typing import Annotated, Literal, cast

import msgspec
from litestar.openapi.spec import OpenAPIMediaType, OpenAPIResponse, OpenAPIType, Operation, Schema

from app.answering.answers import Answer, Timing
from app.answering.citations import Citation, snippet
from app.answering.conversation import Turn
from app.answering.filters import FiltersIn
from enclave.db import Document, Job
from enclave.vectorstore import Hit, SearchMode

NonBlank = Annotated[str, msgspec.Meta(min_length=1, description="Text to search or ask.")]


def utc(moment: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes (stored as UTC); JSON must carry the zone
    (RFC 3339 date-time, as the schema says)."""
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)


class SearchResult(msgspec.Struct):
    chunk_id: str
    document_id: str
    title: str
    source: str
    page: int | None
    heading: str
    text: str
    score: float
    relevance: float
    file_type: str

    @classmethod
    def from_hit(cls, hit: Hit) -> "SearchResult":
        return cls(
            hit.chunk_id, hit.document_id, hit.title, hit.source, hit.page, hit.heading,
            hit.text, round(hit.score, 4), round(hit.relevance, 4), hit.file_type,
        )  # fmt: skip


class SearchResponse(msgspec.Struct):
    query: str
    mode: str
    results: list[SearchResult]


class TurnIn(msgspec.Struct, forbid_unknown_fields=True):
    role: Annotated[
        Literal["user", "assistant"], msgspec.Meta(description="Who said it: user or assistant.")
    ]
    content: Annotated[str, msgspec.Meta(min_length=1)]


class AskRequest(msgspec.Struct, forbid_unknown_fields=True):
    question: NonBlank
    k: Annotated[int, msgspec.Meta(ge=1)] | None = None
    stream: bool = False
    history: Annotated[
        list[TurnIn],
        msgspec.Meta(
            description="Earlier turns of the conversation, oldest first: a follow-up is "
            "condensed with them into a standalone search query."
        ),
    ] = []
    mode: Annotated[
        SearchMode | None,
        msgspec.Meta(description="dense (meaning), sparse (BM25 words) or hybrid (both)."),
    ] = None
    filters: FiltersIn | None = None

    def turns(self) -> list[Turn]:
        return [Turn(t.role, t.content) for t in self.history]


class CitationOut(msgspec.Struct):
    n: int
    document_id: str
    title: str
    source: str
    page: int | None
    snippet: str
    sentences: list[str]

    @classmethod
    def from_citation(cls, c: Citation) -> "CitationOut":
        return cls(c.n, c.document_id, c.title, c.source, c.page, c.snippet, list(c.sentences))


class TimingOut(msgspec.Struct):
    retrieval_ms: float
    first_token_ms: float | None
    total_ms: float | None
    tokens: int
    tokens_per_second: float | None
    citations_ms: float | None

    @classmethod
    def from_timing(cls, t: Timing) -> "TimingOut":
        return cls(
            t.retrieval_ms, t.first_token_ms, t.total_ms, t.tokens, t.tokens_per_second,
            t.citations_ms,
        )  # fmt: skip


class SourceOut(msgspec.Struct):
    n: int
    document_id: str
    title: str
    source: str
    page: int | None
    snippet: str
    score: float
    relevance: float


def sources_out(passages: list[Hit]) -> list[SourceOut]:
    return [
        SourceOut(
            n,
            h.document_id,
            h.title,
            h.source,
            h.page,
            snippet(h.text),
            round(h.score, 4),
            round(h.relevance, 4),
        )
        for n, h in enumerate(passages, start=1)
    ]


class AskResponse(msgspec.Struct):
    answer: str
    citations: list[CitationOut]
    abstained: bool
    timing: TimingOut
    search_query: str
    # Answer sentences no passage supports (flagged, not removed).
    unsupported: list[str]
    # The passages the model read, numbered as cited; when abstaining, the closest ones.
    sources: list[SourceOut]
    # Why the answer abstained: no_relevant_passages, model_declined, unsupported_answer.
    abstention: str | None

    @classmethod
    def from_answer(cls, answer: Answer) -> "AskResponse":
        return cls(
            answer=answer.answer,
            citations=[CitationOut.from_citation(c) for c in answer.citations],
            abstained=answer.abstained,
            timing=TimingOut.from_timing(answer.timing),
            search_query=answer.search_query,
            unsupported=answer.unsupported,
            sources=sources_out(answer.passages),
            abstention=answer.abstention.value if answer.abstention else None,
        )


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
    def from_model(cls, d: Document, shown_path: str | None = None) -> "DocumentOut":
        """`shown_path`: the path as the caller may see it (app/source_paths.py)."""
        return cls(
            d.id, shown_path or d.source_path, d.title, d.file_type, d.status.value, d.error,
            d.size, d.chunk_count, list(d.groups or []), d.source_id, utc(d.indexed_at),
            utc(d.updated_at) or d.updated_at,
        )  # fmt: skip


class DocumentList(msgspec.Struct):
    documents: list[DocumentOut]
    total: int


class UploadOut(msgspec.Struct):
    job_id: str
    source: str
    files: list[str]


class ReindexOut(msgspec.Struct):
    job_id: str  # follow it at /api/jobs/{job_id}
    document_id: str


class FileErrorOut(msgspec.Struct):
    path: str
    error: str


# enclave.db.JobStatus's values (tests/ingest/test_jobs.py checks that they agree).
JobStatusName = Annotated[
    Literal["queued", "running", "succeeded", "completed_with_errors", "failed"],
    msgspec.Meta(
        description="queued, running, then succeeded; completed_with_errors when some files "
        "failed and others were indexed (see `errors`); failed when the job stopped on an "
        "error (`error`) or every file failed."
    ),
]


class JobOut(msgspec.Struct):
    id: str
    kind: str
    status: JobStatusName
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
            status=cast(JobStatusName, job.status.value),
            source_id=job.source_id,
            files_total=job.files_total,
            files_done=job.files_done,
            chunks=job.chunks,
            error=job.error,
            created_at=utc(job.created_at) or job.created_at,
            started_at=utc(job.started_at),
            finished_at=utc(job.finished_at),
            totals=totals,
            errors=[FileErrorOut(p, e) for p, e in errors] if errors is not None else None,
        )


@dataclasses.dataclass
class StreamableOperation(Operation):
    """The OpenAPI operation of a route that answers JSON, or with `"stream": true` a stream of
    server-sent events: its 200 reply lists both media types."""

    def __post_init__(self) -> None:
        reply = (self.responses or {}).get("200")
        if isinstance(reply, OpenAPIResponse):
            reply.content = {
                **(reply.content or {}),
                # Before OpenAPI 3.2, an event-stream schema describes each event.
                "text/event-stream": OpenAPIMediaType(
                    schema=Schema(
                        type=OpenAPIType.OBJECT,
                        description="One server-sent event; `data` holds JSON.",
                        properties={
                            "event": Schema(type=OpenAPIType.STRING),
                            "data": Schema(type=OpenAPIType.STRING),
                            "id": Schema(type=OpenAPIType.STRING),
                        },
                    )
                ),
            }
