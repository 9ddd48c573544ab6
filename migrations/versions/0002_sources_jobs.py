"""sources, jobs and per-file job results; documents belong to a source and may have a
parent (email attachments) or be a duplicate of another document

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

job_kind = sa.Enum("sync", "upload", name="job_kind")
job_status = sa.Enum("queued", "running", "succeeded", "failed", name="job_status")


def upgrade() -> None:
    op.create_table(
        "sources",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("name", sa.String(255), nullable=False, unique=True),
        sa.Column("root", sa.String(4096), nullable=False),
        sa.Column("include", sa.String(1024), nullable=False),
        sa.Column("exclude", sa.String(1024)),
        sa.Column("groups", sa.JSON, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_synced_at", sa.DateTime(timezone=True)),
    )
    op.create_table(
        "jobs",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("kind", job_kind, nullable=False),
        sa.Column(
            "source_id",
            sa.String(36),
            sa.ForeignKey("sources.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("status", job_status, nullable=False),
        sa.Column("paths", sa.JSON, nullable=False),
        sa.Column("worker", sa.String(255)),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("files_total", sa.Integer),
        sa.Column("files_done", sa.Integer, nullable=False),
        sa.Column("chunks", sa.Integer, nullable=False),
        sa.Column("error", sa.Text),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True)),
        sa.Column("heartbeat_at", sa.DateTime(timezone=True)),
        sa.Column("finished_at", sa.DateTime(timezone=True)),
    )
    op.create_index("ix_jobs_source_id", "jobs", ["source_id"])
    op.create_index("ix_jobs_status", "jobs", ["status"])
    op.create_table(
        "job_files",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column(
            "job_id", sa.String(36), sa.ForeignKey("jobs.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("path", sa.String(4096), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("chunks", sa.Integer, nullable=False),
        sa.Column("error", sa.Text),
        sa.Column("document_id", sa.String(36)),
        sa.UniqueConstraint("job_id", "path", name="uq_job_files_job_path"),
    )
    op.create_index("ix_job_files_job_id", "job_files", ["job_id"])
    with op.batch_alter_table("documents") as batch:
        batch.add_column(sa.Column("source_id", sa.String(36)))
        batch.create_foreign_key(
            "fk_documents_source_id", "sources", ["source_id"], ["id"], ondelete="SET NULL"
        )
        batch.create_index("ix_documents_source_id", ["source_id"])
        batch.add_column(sa.Column("parent_id", sa.String(36)))
        batch.create_foreign_key(
            "fk_documents_parent_id", "documents", ["parent_id"], ["id"], ondelete="CASCADE"
        )
        batch.create_index("ix_documents_parent_id", ["parent_id"])
        batch.add_column(sa.Column("duplicate_of", sa.String(36)))
        batch.create_foreign_key(
            "fk_documents_duplicate_of", "documents", ["duplicate_of"], ["id"], ondelete="SET NULL"
        )
        batch.create_index("ix_documents_duplicate_of", ["duplicate_of"])


def downgrade() -> None:
    with op.batch_alter_table("documents") as batch:
        batch.drop_index("ix_documents_duplicate_of")
        batch.drop_constraint("fk_documents_duplicate_of", type_="foreignkey")
        batch.drop_column("duplicate_of")
        batch.drop_index("ix_documents_parent_id")
        batch.drop_constraint("fk_documents_parent_id", type_="foreignkey")
        batch.drop_column("parent_id")
        batch.drop_index("ix_documents_source_id")
        batch.drop_constraint("fk_documents_source_id", type_="foreignkey")
        batch.drop_column("source_id")
    op.drop_index("ix_job_files_job_id", "job_files")
    op.drop_table("job_files")
    op.drop_index("ix_jobs_status", "jobs")
    op.drop_index("ix_jobs_source_id", "jobs")
    op.drop_table("jobs")
    op.drop_table("sources")
    job_status.drop(op.get_bind(), checkfirst=True)
    job_kind.drop(op.get_bind(), checkfirst=True)
