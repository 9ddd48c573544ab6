"""Search and ask: the service layer shared by the JSON API, the SSE stream and the pages."""

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

from app.generation import Generator
from app.prompting import Citation, build_messages, extract_citations, fit_passages
from app.retrieval import Retriever
from enclave.vectorstore import Hit

NOT_FOUND = "I couldn't find this in the knowledge base."


@dataclass(frozen=True)
class Timing:
    retrieval_ms: float
    first_token_ms: float | None = None
    total_ms: float | None = None
    tokens: int = 0


@dataclass(frozen=True)
class Answer:
    answer: str
    citations: list[Citation]
    passages: list[Hit]
    timing: Timing
    abstained: bool = False


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
    min_score: float = 0.0

    async def search(self, query: str, k: int) -> list[Hit]:
        # Embedding is CPU work: keep it off the event loop.
        return await asyncio.to_thread(self.retriever.search, query, k)

    async def _passages(self, question: str, k: int) -> list[Hit]:
        hits = [h for h in await self.search(question, k) if h.score >= self.min_score]
        # Leave room in the context for the longest answer the model may write.
        budget = self.generator.context_size - self.generator.options.max_tokens
        return fit_passages(question, hits, self.generator.count_tokens, budget)

    async def ask(self, question: str, k: int) -> Answer:
        """The whole answer. The caller holds a generator Admission."""
        final: Answer | None = None
        async for event in self.ask_stream(question, k):
            if isinstance(event, Done):
                final = event.answer
        assert final is not None
        return final

    async def ask_stream(self, question: str, k: int) -> AsyncIterator[AnswerEvent]:
        """Sources first, then tokens, then the answer with its citations and timing.
        The caller holds a generator Admission."""
        started = time.perf_counter()
        passages = await self._passages(question, k)
        retrieval_ms = _ms_since(started)
        yield Sources(passages)
        if not passages:
            yield Token(NOT_FOUND)
            timing = Timing(retrieval_ms, total_ms=_ms_since(started))
            yield Done(Answer(NOT_FOUND, [], [], timing, abstained=True))
            return
        parts: list[str] = []
        first_token_ms: float | None = None
        async for text in self.generator.stream(build_messages(question, passages)):
            if first_token_ms is None:
                first_token_ms = _ms_since(started)
            parts.append(text)
            yield Token(text)
        answer = "".join(parts).strip()
        if not answer:  # the stream must carry the text the final answer reports
            yield Token(NOT_FOUND)
        timing = Timing(retrieval_ms, first_token_ms, _ms_since(started), len(parts))
        abstained = not answer or NOT_FOUND.lower().rstrip(".") in answer.lower()
        citations = [] if abstained else extract_citations(answer, passages)
        yield Done(Answer(answer or NOT_FOUND, citations, passages, timing, abstained))


def _ms_since(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 1)
