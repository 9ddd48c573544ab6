"""Search and ask: the service layer shared by the JSON API, the SSE stream and the pages.

An answer goes: follow-up condensed into a search query (condense) → search → passages below
the relevance threshold dropped → context assembled (context: merged, widened, focused,
packed) → `Sources` → the model's tokens → every sentence checked against the passages
(citations) → `Done` with the citations, the unsupported sentences and the timing. The
answer is replaced by a plain abstention when nothing relevant was found, when the model
says it cannot answer, or when no sentence it wrote is supported by a passage.
"""

import asyncio
import functools
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from app.answering import context
from app.answering.answerability import assess
from app.answering.citations import AnswerSentence, Citation, Review, SupportMatcher
from app.answering.condense import condense
from app.answering.conversation import Turn
from app.answering.generation import Generator
from app.answering.prompting import NOT_FOUND, build_messages, passage_budget, passage_cost
from app.answering.retrieval import Retriever
from enclave.settings import Settings
from enclave.vectorstore import Hit, SearchFilter, SearchMode

__all__ = ["NOT_FOUND", "Abstention", "Answer", "AnswerService", "Done", "Sources", "Token"]


class Abstention(StrEnum):
    NO_PASSAGES = "no_relevant_passages"  # nothing retrieved passed the relevance threshold
    DECLINED = "model_declined"  # the model said it cannot answer, or said nothing
    UNSUPPORTED = "unsupported_answer"  # no sentence of the answer is in the passages
    # The passages are on the topic but no sentence comes close to the question
    # (app/answerability.py); decided before the model runs.
    NOT_ANSWERED = "answer_not_in_passages"


@dataclass(frozen=True)
class Timing:
    retrieval_ms: float  # condensing, search and context assembly
    first_token_ms: float | None = None  # from the request's start
    total_ms: float | None = None
    tokens: int = 0
    tokens_per_second: float | None = None  # after the first token
    citations_ms: float | None = None  # checking the answer against the passages


@dataclass(frozen=True)
class Answer:
    answer: str  # final text: Enclave's [n] markers, or the abstention
    citations: list[Citation]
    passages: list[Hit]  # what the model read; when abstaining, the closest sources
    timing: Timing
    abstained: bool = False
    search_query: str = ""  # what retrieval searched for (the condensed question)
    unsupported: list[str] = field(default_factory=list)  # sentences no passage supports
    abstention: Abstention | None = None
    generated: str = ""  # the model's own text
    sentences: list[AnswerSentence] = field(default_factory=list)


# Streaming events, in the order they are sent.
@dataclass(frozen=True)
class Sources:
    passages: list[Hit]


@dataclass(frozen=True)
class Token:
    text: str


@dataclass(frozen=True)
class Done:
    answer: Answer


AnswerEvent = Sources | Token | Done


@dataclass
class AnswerService:
    retriever: Retriever
    generator: Generator
    # Cosine relevance (query ↔ chunk) a hit needs to reach the model.
    min_relevance: float = 0.0
    # Chunks added on each side of a hit; sentences kept nearest the question (0: all).
    neighbours: int = 0
    focus_sentences: int = 0
    # Abstain when the model wrote claims and no passage supports any of them.
    abstain_unsupported: bool = True
    # Abstain before generation when the answerability score (app/answerability.py) is
    # below this; 0: off. Corpus-dependent: 0.59 was fitted on ClapNQ.
    min_answerability: float = 0.0

    @classmethod
    def from_settings(
        cls, retriever: Retriever, generator: Generator, settings: Settings
    ) -> "AnswerService":
        return cls(
            retriever,
            generator,
            min_relevance=settings.min_relevance,
            neighbours=settings.ask_neighbours,
            focus_sentences=settings.ask_focus_sentences,
            abstain_unsupported=settings.abstain_unsupported,
            min_answerability=settings.min_answerability,
        )

    @functools.cached_property
    def matcher(self) -> SupportMatcher:
        return SupportMatcher(self.retriever.embedder)

    async def search(
        self,
        query: str,
        k: int,
        *,
        mode: SearchMode | None = None,
        filters: SearchFilter | None = None,
    ) -> list[Hit]:
        # Embedding is CPU work: keep it off the event loop.
        return await asyncio.to_thread(
            functools.partial(self.retriever.search, query, k, mode=mode, filters=filters)
        )

    def assemble(self, question: str, hits: Sequence[Hit]) -> list[context.Passage]:
        """The passages the model reads for `question`, from relevant `hits` (blocking)."""
        passages = context.merge(hits, self.retriever.store.fetch, self.neighbours)
        passages = context.focus(question, passages, self.retriever.embedder, self.focus_sentences)
        count = self.generator.count_tokens
        room = self.generator.context_size - self.generator.options.max_tokens
        return context.pack(passages, passage_cost(count), passage_budget(question, count, room))

    async def passages(
        self,
        query: str,
        k: int,
        *,
        mode: SearchMode | None = None,
        filters: SearchFilter | None = None,
    ) -> list[context.Passage]:
        """The numbered passages the model reads for a standalone `query`."""
        return (await self._retrieve(query, k, mode=mode, filters=filters))[1]

    async def _retrieve(
        self, query: str, k: int, *, mode: SearchMode | None, filters: SearchFilter | None
    ) -> tuple[list[Hit], list[context.Passage]]:
        """The search hits, and the passages assembled from those relevant enough."""
        hits = await self.search(query, k, mode=mode, filters=filters)
        relevant = [h for h in hits if h.relevance >= self.min_relevance]
        if not relevant:
            return hits, []
        return hits, await asyncio.to_thread(self.assemble, query, relevant)

    async def ask(
        self,
        question: str,
        k: int,
        *,
        history: Sequence[Turn] = (),
        mode: SearchMode | None = None,
        filters: SearchFilter | None = None,
    ) -> Answer:
        """The whole answer. The caller holds a generator Admission."""
        final: Answer | None = None
        async for event in self.ask_stream(
            question, k, history=history, mode=mode, filters=filters
        ):
            if isinstance(event, Done):
                final = event.answer
        assert final is not None
        return final

    async def ask_stream(
        self,
        question: str,
        k: int,
        *,
        history: Sequence[Turn] = (),
        mode: SearchMode | None = None,
        filters: SearchFilter | None = None,
    ) -> AsyncIterator[AnswerEvent]:
        """Sources first, then tokens, then the answer with its citations and timing.
        `history` holds the conversation's earlier turns, oldest first. `Done` carries the
        final text, which replaces the streamed one (corrected markers, or the abstention).
        The caller holds a generator Admission."""
        started = time.perf_counter()
        query = condense(question, history).query
        hits, passages = await self._retrieve(query, k, mode=mode, filters=filters)
        refusal = await self._refusal(query, passages)
        retrieval_ms = _ms_since(started)
        if refusal is not None:
            yield Sources(hits)  # the closest sources, for the reader to look at
            yield Token(NOT_FOUND)
            timing = Timing(retrieval_ms, total_ms=_ms_since(started))
            yield Done(Answer(NOT_FOUND, [], hits, timing, True, query, abstention=refusal))
            return
        shown = [p.hit for p in passages]
        yield Sources(shown)

        parts: list[str] = []
        first_token_ms: float | None = None
        async for text in self.generator.stream(build_messages(query, passages)):
            if first_token_ms is None:
                first_token_ms = _ms_since(started)
            parts.append(text)
            yield Token(text)
        generated = "".join(parts).strip()
        if not generated:  # the stream must carry the text the final answer reports
            yield Token(NOT_FOUND)
        generated_ms = _ms_since(started)

        review = await asyncio.to_thread(self.matcher.review, generated, query, passages)
        abstention = self._abstention(generated, review)
        timing = Timing(
            retrieval_ms,
            first_token_ms,
            total_ms=_ms_since(started),
            tokens=len(parts),
            tokens_per_second=_rate(len(parts), first_token_ms, generated_ms),
            citations_ms=round(_ms_since(started) - generated_ms, 1),
        )
        yield Done(
            Answer(
                answer=NOT_FOUND if abstention else review.text,
                citations=[] if abstention else review.citations,
                passages=shown,
                timing=timing,
                abstained=abstention is not None,
                search_query=query,
                unsupported=review.unsupported,
                abstention=abstention,
                generated=generated,
                sentences=review.sentences,
            )
        )

    async def _refusal(self, query: str, passages: list[context.Passage]) -> Abstention | None:
        """Why to abstain before the model runs, if the passages cannot hold the answer."""
        if not passages:
            return Abstention.NO_PASSAGES
        if self.min_answerability > 0:
            embedder = self.retriever.embedder
            signal = await asyncio.to_thread(assess, query, passages, embedder)
            if not signal.answerable(self.min_answerability):
                return Abstention.NOT_ANSWERED
        return None

    def _abstention(self, generated: str, review: Review) -> Abstention | None:
        if not generated or (review.declined and not review.supported):
            return Abstention.DECLINED
        if self.abstain_unsupported and not review.supported:
            return Abstention.UNSUPPORTED
        return None


def _ms_since(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 1)


def _rate(tokens: int, first_ms: float | None, last_ms: float) -> float | None:
    """Tokens per second after the first one (the first waits for the prompt)."""
    if first_ms is None or tokens < 2 or last_ms <= first_ms:
        return None
    return round((tokens - 1) / ((last_ms - first_ms) / 1000), 1)
