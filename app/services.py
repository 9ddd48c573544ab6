"""The long-lived parts of the service, built once at start-up and closed at shutdown."""

import threading
from dataclasses import dataclass, field
from datetime import timedelta

from app.answering.answers import AnswerService
from app.answering.generation import Generator, load_generator
from app.answering.rerank import Reranker
from app.answering.retrieval import Retriever
from app.answering.source_paths import SourcePaths
from app.library import Library
from enclave.db import Database
from enclave.embedder import Embedder
from enclave.settings import ConfigurationError, Settings
from enclave.vectorstore import SearchMode, VectorStore, open_store
from ingest.parse_pool import ParsePool
from ingest.pipeline import Ingestor
from ingest.worker import Worker, open_parse_pool


@dataclass
class Services:
    settings: Settings
    database: Database
    store: VectorStore
    embedder: Embedder
    generator: Generator
    answers: AnswerService
    ingestor: Ingestor
    worker: Worker
    library: Library
    parser: ParsePool
    _stop: threading.Event = field(default_factory=threading.Event)
    _worker_thread: threading.Thread | None = None

    @classmethod
    def build(cls, settings: Settings, embedder: Embedder | None = None) -> "Services":
        """Build every part from settings; pass `embedder` to share an already loaded one."""
        problems = settings.missing_files()
        if problems:
            raise ConfigurationError("\n".join(problems))
        database = Database.from_settings(settings)
        store = open_store(settings)
        try:
            embedder = embedder or Embedder.from_settings(settings)
            ingestor = Ingestor.from_settings(
                settings, database, store, embedder
            )  # makes the collection
            generator = load_generator(settings)
            reranker = Reranker.from_settings(settings)
        except BaseException:
            store.close()
            database.dispose()
            raise
        paths = SourcePaths(database)
        retriever = Retriever(embedder, store, SearchMode(settings.search_mode), reranker, paths)
        answers = AnswerService.from_settings(retriever, generator, settings)
        parser = open_parse_pool(settings)
        worker = Worker(
            database,
            ingestor,
            stale_after=timedelta(seconds=settings.job_stale_seconds),
            parser=parser,
            embed_batch_chunks=settings.embed_batch_chunks,
        )
        library = Library(settings, database, ingestor, paths)
        return cls(
            settings, database, store, embedder, generator, answers, ingestor, worker, library,
            parser,
        )  # fmt: skip

    def start_worker(self, poll_seconds: float = 1.0) -> None:
        """Run queued ingestion jobs in this process: uploads, and syncs handed over by
        `enclave ingest` while this process holds the embedded index."""
        if self._worker_thread is not None:
            return
        self._stop.clear()
        self._worker_thread = threading.Thread(
            target=self.worker.run_forever,
            args=(self._stop, poll_seconds),
            name="ingest-worker",
            daemon=True,
        )
        self._worker_thread.start()

    def stop_worker(self) -> None:
        if self._worker_thread is None:
            return
        self._stop.set()
        self._worker_thread.join()
        self._worker_thread = None

    def close(self) -> None:
        self.stop_worker()
        self.parser.close()
        self.generator.close()
        self.store.close()
        self.database.dispose()
