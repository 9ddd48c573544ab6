"""Relational metadata: typed SQLAlchemy models, the engine/session factory, migrations."""

from enclave.db.models import (
    ApiKey,
    AuditEvent,
    Base,
    Document,
    DocumentStatus,
    Feedback,
    Job,
    JobFile,
    JobKind,
    JobStatus,
    Source,
)
from enclave.db.session import Database
from enclave.db.users import LoginSession, User

__all__ = [
    "ApiKey",
    "AuditEvent",
    "Base",
    "Database",
    "Document",
    "DocumentStatus",
    "Feedback",
    "Job",
    "JobFile",
    "JobKind",
    "JobStatus",
    "LoginSession",
    "Source",
    "User",
]
