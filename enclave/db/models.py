"""SQLAlchemy 2.0 typed models. Every table here is created by an Alembic migration."""

import enum
import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    Enum,
    Float,
    ForeignKey,
    Integer,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_id() -> str:
    return str(uuid.uuid4())


class Base(DeclarativeBase):
    pass


def _enum(kind: type[enum.StrEnum], name: str) -> Enum:
    return Enum(kind, name=name, values_callable=lambda e: [m.value for m in e])


class DocumentStatus(enum.StrEnum):
    PENDING = "pending"
    INDEXED = "indexed"
    FAILED = "failed"


class Document(Base):
    """One source file and where its ingestion stands."""

    __tablename__ = "documents"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    source_path: Mapped[str] = mapped_column(String(4096), unique=True, index=True)
    content_hash: Mapped[str | None] = mapped_column(String(64), index=True)
    size: Mapped[int] = mapped_column(BigInteger, default=0)
    mtime: Mapped[float] = mapped_column(Float, default=0.0)
    title: Mapped[str] = mapped_column(String(1024), default="")
    file_type: Mapped[str] = mapped_column(String(32), default="")
    status: Mapped[DocumentStatus] = mapped_column(
        Enum(
            DocumentStatus, name="document_status", values_callable=lambda e: [m.value for m in e]
        ),
        default=DocumentStatus.PENDING,
        index=True,
    )
    error: Mapped[str | None] = mapped_column(Text)
    groups: Mapped[list[str]] = mapped_column(JSON, default=list)
    # Set through the API by an administrator: syncs keep them instead of the source's (or
    # its folder's `.enclave-acl`) groups.
    groups_pinned: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    source_id: Mapped[str | None] = mapped_column(
        ForeignKey("sources.id", ondelete="SET NULL"), index=True
    )
    # An email attachment is its own document, under the message it came in.
    parent_id: Mapped[str | None] = mapped_column(
        ForeignKey("documents.id", ondelete="CASCADE"), index=True
    )
    # Same content as another file: its chunks are stored once, under that document.
    duplicate_of: Mapped[str | None] = mapped_column(
        ForeignKey("documents.id", ondelete="SET NULL"), index=True
    )
    chunk_count: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow
    )
    indexed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    def __repr__(self) -> str:
        return f"Document({self.id!r}, {self.source_path!r}, {self.status.value})"


class JobStatus(enum.StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"  # no file failed
    COMPLETED_WITH_ERRORS = "completed_with_errors"  # some files failed, others went through
    FAILED = "failed"  # the job stopped on an error, or every file it tried failed

    @property
    def finished(self) -> bool:
        return self not in (JobStatus.QUEUED, JobStatus.RUNNING)


class JobKind(enum.StrEnum):
    SYNC = "sync"  # bring a source's whole folder in line with the index
    UPLOAD = "upload"  # index the listed files only
    # Index again even if unchanged (after a parser or embedder change): the listed files,
    # or the whole source like a sync when none are listed.
    REINDEX = "reindex"


class Source(Base):
    """A folder (or file) that Enclave keeps in sync, with the access groups of its documents."""

    __tablename__ = "sources"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(255), unique=True)
    # One source per folder (documents are keyed by path): unique since migration 0008.
    root: Mapped[str] = mapped_column(String(4096), unique=True, index=True)
    include: Mapped[str] = mapped_column(String(1024), default="**/*")
    exclude: Mapped[str | None] = mapped_column(String(1024))
    groups: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    last_synced_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Job(Base):
    """An ingestion job and its progress. Workers claim queued jobs, and jobs whose worker
    stopped sending heartbeats (a crash), and finish them."""

    __tablename__ = "jobs"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    kind: Mapped[JobKind] = mapped_column(_enum(JobKind, "job_kind"))
    source_id: Mapped[str] = mapped_column(ForeignKey("sources.id", ondelete="CASCADE"), index=True)
    status: Mapped[JobStatus] = mapped_column(
        _enum(JobStatus, "job_status"), default=JobStatus.QUEUED, index=True
    )
    paths: Mapped[list[str]] = mapped_column(JSON, default=list)  # UPLOAD jobs: the files
    worker: Mapped[str | None] = mapped_column(String(255))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    files_total: Mapped[int | None] = mapped_column(Integer)
    files_done: Mapped[int] = mapped_column(Integer, default=0)
    chunks: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    heartbeat_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    files: Mapped[list["JobFile"]] = relationship(
        back_populates="job", cascade="all, delete-orphan", order_by="JobFile.id"
    )


class JobFile(Base):
    """What a job did with one file. A restarted job skips the files it already recorded."""

    __tablename__ = "job_files"
    __table_args__ = (UniqueConstraint("job_id", "path", name="uq_job_files_job_path"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    job_id: Mapped[str] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), index=True)
    path: Mapped[str] = mapped_column(String(4096))
    outcome: Mapped[str] = mapped_column(String(16))  # ingest.pipeline.Outcome values
    chunks: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)
    document_id: Mapped[str | None] = mapped_column(String(36))

    job: Mapped[Job] = relationship(back_populates="files")


class Feedback(Base):
    """An employee's rating of one answer, kept with what was asked, answered and cited."""

    __tablename__ = "feedback"
    __table_args__ = (CheckConstraint("rating IN (-1, 1)", name="ck_feedback_rating"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, index=True
    )
    question: Mapped[str] = mapped_column(Text)
    answer: Mapped[str] = mapped_column(Text)
    # [{n, document_id, title, source, page}] as shown with the answer.
    citations: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    rating: Mapped[int] = mapped_column(SmallInteger)  # +1 helpful, -1 not
    comment: Mapped[str | None] = mapped_column(Text)
    # Who rated it (app/security Principal.name); None before access control or with it off.
    author: Mapped[str | None] = mapped_column(String(255))


class ApiKey(Base):
    """A key for an app or script. Only a scrypt hash of its secret is kept (app/security/keys.py):
    the key itself is shown once, when created."""

    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(255))
    # The public part of the key (`enc_<prefix>_<secret>`), to find its row without the secret.
    prefix: Mapped[str] = mapped_column(String(32), unique=True)
    hash: Mapped[str] = mapped_column(String(128))  # hex scrypt digest
    salt: Mapped[str] = mapped_column(String(64))  # hex
    groups: Mapped[list[str]] = mapped_column(JSON, default=list)  # ["*"]: every group
    scopes: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class AuditEvent(Base):
    """Who did what, when, and with which result (app/security/audit.py records them).

    `query` holds the search query or question, or None when ENCLAVE_AUDIT_HASH_QUERIES keeps
    only `query_hash` (an HMAC of it: repeated questions can be told apart, not read)."""

    __tablename__ = "audit_events"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, index=True
    )
    actor: Mapped[str] = mapped_column(String(255), index=True)  # Principal.id, or "-"
    actor_name: Mapped[str] = mapped_column(String(255), default="")
    action: Mapped[str] = mapped_column(String(32), index=True)  # search, ask, upload, …
    method: Mapped[str] = mapped_column(String(16), default="")
    path: Mapped[str] = mapped_column(String(1024), default="")  # no query string
    status: Mapped[int] = mapped_column(Integer, default=0)
    outcome: Mapped[str] = mapped_column(String(16), default="ok")  # ok, denied, rejected, …
    latency_ms: Mapped[float] = mapped_column(Float, default=0.0)
    query: Mapped[str | None] = mapped_column(Text)
    query_hash: Mapped[str | None] = mapped_column(String(64))
    documents: Mapped[list[str]] = mapped_column(JSON, default=list)  # returned or cited
    chunks: Mapped[list[str]] = mapped_column(JSON, default=list)
    # The model and settings used, a key's or document's id, the groups set, …
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
