"""Relational metadata: typed SQLAlchemy models, the engine/session factory, migrations."""

from enclave.db.models import (
    Base,
    Document,
    DocumentStatus,
    Job,
    JobFile,
    JobKind,
    JobStatus,
    Source,
)
from enclave.db.session import Database

__all__ = [
    "Base",
    "Database",
    "Document",
    "DocumentStatus",
    "Job",
    "JobFile",
    "JobKind",
    "JobStatus",
    "Source",
]
