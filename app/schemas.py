"""Request and response shapes of the JSON API (msgspec structs: validated and documented)."""

from typing import Annotated

import msgspec

from app.answers import Answer, Timing
from app.prompting import Citation
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
    from app.prompting import snippet

    return [
        SourceOut(n, h.document_id, h.title, h.source, h.page, snippet(h.text), round(h.score, 4))
        for n, h in enumerate(passages, start=1)
    ]
