"""The long-lived parts of the service, built once at start-up and closed at shutdown."""

from dataclasses import dataclass

from app.answers import AnswerService
from app.generation import GenerationOptions, Generator
from app.retrieval import Retriever
from enclave.db import Database
from enclave.embedder import Embedder
from enclave.settings import ConfigurationError, Settings
from enclave.vectorstore import VectorStore


def load_generator(settings: Settings) -> Generator:
    return Generator.load(
        settings.llm_path(),
        context_size=settings.llm_context_size,
        threads=settings.llm_threads,
        options=GenerationOptions(settings.llm_max_tokens, settings.llm_temperature),
        queue_size=settings.generation_queue_size,
    )


@dataclass
class Services:
    settings: Settings
    database: Database
    store: VectorStore
    embedder: Embedder
    generator: Generator
    answers: AnswerService

    @classmethod
    def build(cls, settings: Settings, embedder: Embedder | None = None) -> "Services":
        """Build every part from settings; pass `embedder` to share an already loaded one."""
        problems = settings.missing_files()
        if problems:
            raise ConfigurationError("\n".join(problems))
        database = Database.from_settings(settings)
        store = VectorStore.from_settings(settings)
        try:
            embedder = embedder or Embedder.from_settings(settings)
            store.ensure_collection(embedder.dimension)
            generator = load_generator(settings)
        except BaseException:
            store.close()
            database.dispose()
            raise
        answers = AnswerService(Retriever(embedder, store), generator, min_score=settings.min_score)
        return cls(settings, database, store, embedder, generator, answers)

    def close(self) -> None:
        self.generator.close()
        self.store.close()
        self.database.dispose()
