"""Run an evaluation: index a dataset's passages as production would, then ask its questions.

Passages are chunked by ingestion's own `chunk_document` (title-prefixed embedding text, long
passages split at sentence ends within the embedder's budget), embedded by the same embedder
and written with `VectorStore.upsert`, into a collection of their own
(`eval_<dataset>_<fingerprint of the embedder and the chunks>`; with the embedded store,
under `<data_dir>/eval/qdrant`, so `enclave serve` may keep the main index open meanwhile).
Retrieval is scored per passage: a passage's chunks count once, at the rank of its best
chunk.
"""

import asyncio
import hashlib
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from app.answering.answerability import assess
from app.answering.evaluation.datasets import EvalDataset, EvalQuestion
from app.answering.rerank import Reranker
from app.answering.retrieval import Retriever
from enclave.embedder import Embedder
from enclave.settings import Settings
from enclave.vectorstore import ChunkRecord, Hit, SearchMode, VectorStore, lexical, open_store
from ingest.chunking import chunk_document

if TYPE_CHECKING:
    from app.answering.answers import AnswerService

# Metrics look at the first 10 passages; chunks are fetched deeper so that passages split
# into several chunks still leave 10 distinct passages after deduplication.
DEPTH = 10
FETCH_CHUNKS = 50
EMBED_BATCH = 64  # chunks per embedding call: the progress bar moves at this step
FILE_TYPE = "eval"

Progress = Callable[[str, int, int], None]
"""Called as (stage, done, total) with stage "index" or "questions"."""


def _no_progress(stage: str, done: int, total: int) -> None:
    return None


@dataclass(frozen=True)
class IndexReport:
    collection: str
    passages: int
    chunks: int
    reused: bool
    seconds: float


@dataclass(frozen=True)
class QuestionResult:
    question: EvalQuestion
    ranked: tuple[str, ...]  # passage ids, best first, each once
    # The highest cosine relevance among the first k chunks: the answer service abstains
    # when it is below ENCLAVE_MIN_RELEVANCE (in dense mode, the top hit's).
    top_relevance: float
    retrieval_ms: float
    # The answerability score of those k chunks (app/answerability.py), which
    # ENCLAVE_MIN_ANSWERABILITY is compared with; not part of the retrieval latency.
    answerability: float = 0.0
    # With --answers:
    answer: str | None = None
    abstained: bool | None = None
    abstention_reason: str | None = (
        None  # why the service abstained (app.answering.answers.Abstention)
    )
    cited: tuple[str, ...] = ()  # passage ids of the citations
    answer_ms: float | None = None
    first_token_ms: float | None = None


@dataclass(frozen=True)
class EvalRun:
    dataset: EvalDataset
    mode: SearchMode
    k: int
    index: IndexReport
    results: list[QuestionResult] = field(default_factory=list)
    answered: bool = False
    # What produced the numbers (embedder, LLM, temperature): said when a baseline differs.
    setup: dict[str, object] = field(default_factory=dict)


def describe_setup(settings: Settings, with_answers: bool) -> dict[str, object]:
    model = settings.embedding_model_path()
    setup: dict[str, object] = {
        "embedder": f"{model.parent.name}/{model.name} ({settings.embedding_backend})"
    }
    if with_answers:
        setup["llm"] = settings.llm_path().name
        setup["temperature"] = settings.llm_temperature
    return setup


def collection_name(dataset_name: str, fingerprint: str) -> str:
    slug = re.sub(r"[^a-z0-9_-]+", "-", dataset_name.lower()).strip("-") or "dataset"
    return f"eval_{slug}_{fingerprint}"


def fingerprint(settings: Settings, chunks: Sequence["PassageChunk"]) -> str:
    """What the index's vectors depend on: the embedding model and backend, every chunk's id
    and embedded text, and its sparse (BM25) vector. A different embedder, chunking or word
    weighting gets a collection of its own instead of silently reusing vectors it did not
    make (and switching back reuses the earlier one)."""
    digest = hashlib.sha1(usedforsecurity=False)
    model = settings.embedding_model_path().resolve()
    digest.update(f"{model}\0{settings.embedding_backend}\0".encode())
    for chunk in chunks:
        record = chunk.record
        sparse = lexical.encode_document(record.lexical_text)
        digest.update(
            f"{record.document_id}/{record.ordinal}\0{chunk.embed_text}\0"
            f"{sparse.indices}{sparse.values}\0".encode()
        )
    return digest.hexdigest()[:10]


def eval_settings(settings: Settings, dataset: EvalDataset, fingerprint: str) -> Settings:
    """The settings of the dataset's own collection: the main index is never touched."""
    update: dict[str, object] = {"collection": collection_name(dataset.name, fingerprint)}
    if settings.uses_embedded_qdrant:
        update["qdrant_path"] = settings.data_dir / "eval" / "qdrant"
    return settings.model_copy(update=update)


# -- indexing -------------------------------------------------------------------------------


@dataclass(frozen=True)
class PassageChunk:
    record: ChunkRecord
    embed_text: str


def passage_chunks(dataset: EvalDataset, embedder: Embedder, max_tokens: int) -> list[PassageChunk]:
    """Each passage as ingestion chunks a one-paragraph document titled with its title."""
    from unstructured.documents.elements import NarrativeText

    chunks: list[PassageChunk] = []
    for passage in dataset.passages:
        for chunk in chunk_document(
            [NarrativeText(passage.text)], passage.title, embedder, max_tokens
        ):
            record = ChunkRecord(
                document_id=passage.id,
                ordinal=chunk.ordinal,
                text=chunk.text,
                title=passage.title,
                source=dataset.name,
                page=None,
                heading=chunk.heading,
                file_type=FILE_TYPE,
                groups=("public",),
                source_name=dataset.name,
            )
            chunks.append(PassageChunk(record, chunk.embed_text))
    return chunks


def index_dataset(
    chunks: Sequence[PassageChunk],
    store: VectorStore,
    embedder: Embedder,
    *,
    reindex: bool = False,
    progress: Progress = _no_progress,
) -> IndexReport:
    """Bring the store's collection in line with the passages' chunks. An index holding
    exactly the expected chunks per passage is reused unless `reindex`."""
    started = time.perf_counter()
    store.ensure_collection(embedder.dimension)
    expected: dict[str, int] = {}
    for chunk in chunks:
        expected[chunk.record.document_id] = expected.get(chunk.record.document_id, 0) + 1
    present = store.chunk_counts()
    if present == expected and not reindex:
        progress("index", len(chunks), len(chunks))
        return IndexReport(
            store.collection, len(expected), len(chunks), True, time.perf_counter() - started
        )
    for document_id in present.keys() - expected.keys():  # another corpus under this name
        store.delete_document(document_id)
    progress("index", 0, len(chunks))
    for start in range(0, len(chunks), EMBED_BATCH):
        batch = chunks[start : start + EMBED_BATCH]
        vectors = embedder.embed_documents([c.embed_text for c in batch])
        store.upsert([c.record for c in batch], vectors)
        progress("index", start + len(batch), len(chunks))
    for document_id, count in expected.items():
        if present.get(document_id, 0) > count:  # left over from a longer earlier chunking
            store.delete_chunks_from(document_id, count)
    return IndexReport(
        store.collection, len(expected), len(chunks), False, time.perf_counter() - started
    )


# -- questions ------------------------------------------------------------------------------


def ranked_passages(hits: Sequence[Hit], depth: int = DEPTH) -> tuple[str, ...]:
    """Passage ids in the order of their best chunk, each once."""
    return tuple(dict.fromkeys(h.document_id for h in hits))[:depth]


def run_retrieval(
    dataset: EvalDataset,
    retriever: Retriever,
    mode: SearchMode,
    k: int,
    progress: Progress = _no_progress,
) -> list[QuestionResult]:
    """Search each question once, `FETCH_CHUNKS` deep; `k` is how many chunks an answer
    would read, for the relevance the abstention threshold sees."""
    results = []
    total = len(dataset.questions)
    progress("questions", 0, total)
    for done, question in enumerate(dataset.questions, start=1):
        started = time.perf_counter()
        hits = retriever.search(question.question, FETCH_CHUNKS, mode=mode)
        elapsed = (time.perf_counter() - started) * 1000
        results.append(
            QuestionResult(
                question=question,
                ranked=ranked_passages(hits),
                top_relevance=max((h.relevance for h in hits[:k]), default=0.0),
                retrieval_ms=elapsed,
                answerability=assess(question.question, hits[:k], retriever.embedder).score,
            )
        )
        progress("questions", done, total)
    return results


async def _answer_all(
    results: list[QuestionResult],
    answers: "AnswerService",
    k: int,
    mode: SearchMode,
    progress: Progress,
) -> list[QuestionResult]:
    answered = []
    progress("answers", 0, len(results))
    for done, result in enumerate(results, start=1):
        with answers.generator.admit():
            answer = await answers.ask(result.question.question, k, mode=mode)
        answered.append(
            replace(
                result,
                answer=answer.answer,
                abstained=answer.abstained,
                abstention_reason=answer.abstention.value if answer.abstention else None,
                cited=tuple(c.document_id for c in answer.citations),
                answer_ms=answer.timing.total_ms,
                first_token_ms=answer.timing.first_token_ms,
            )
        )
        progress("answers", done, len(results))
    return answered


def run_answers(
    results: list[QuestionResult],
    answers: "AnswerService",
    k: int,
    mode: SearchMode,
    progress: Progress = _no_progress,
) -> list[QuestionResult]:
    """Each question through the real answer service (retrieval, prompt, llama.cpp,
    citations, abstention), `k` passages each."""
    return asyncio.run(_answer_all(results, answers, k, mode, progress))


def evaluate(
    dataset: EvalDataset,
    settings: Settings,
    *,
    mode: SearchMode,
    k: int = 5,
    with_answers: bool = False,
    reindex: bool = False,
    embedder: Embedder | None = None,
    progress: Progress = _no_progress,
    on_stage: Callable[[str], None] = lambda _: None,
) -> EvalRun:
    """Index (or reuse) the dataset's collection, run every question's retrieval and, with
    `with_answers`, its answer. `settings` are the service's; the collection is derived."""
    if with_answers:
        problems = settings.missing_files()
        if problems:
            from enclave.settings import ConfigurationError

            raise ConfigurationError("\n".join(problems))
    on_stage("Loading the embedding model…")
    embedder = embedder or Embedder.from_settings(settings)
    chunks = passage_chunks(dataset, embedder, min(settings.chunk_max_tokens, embedder.max_tokens))
    store_settings = eval_settings(settings, dataset, fingerprint(settings, chunks))
    store = open_store(store_settings)
    try:
        index = index_dataset(chunks, store, embedder, reindex=reindex, progress=progress)
        retriever = Retriever(embedder, store, mode, Reranker.from_settings(settings))
        results = run_retrieval(dataset, retriever, mode, k, progress)
        if with_answers:
            on_stage("Loading the language model…")
            results = _with_answers(results, settings, retriever, k, mode, progress)
    finally:
        store.close()
    setup = describe_setup(settings, with_answers)
    return EvalRun(dataset, mode, k, index, results, answered=with_answers, setup=setup)


def _with_answers(
    results: list[QuestionResult],
    settings: Settings,
    retriever: Retriever,
    k: int,
    mode: SearchMode,
    progress: Progress,
) -> list[QuestionResult]:
    from app.answering.answers import AnswerService
    from app.answering.generation import load_generator

    generator = load_generator(settings)
    try:
        # The service's own construction: the same relevance threshold, context assembly
        # and abstention rules as `enclave serve`.
        answers = AnswerService.from_settings(retriever, generator, settings)
        return run_answers(results, answers, k, mode, progress)
    finally:
        generator.close()
