"""Re-indexing and pinned access groups: job_kind gains 'reindex' (index files again even
when unchanged); documents.groups_pinned marks groups an administrator set, which syncs keep

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-24
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

KINDS = ("sync", "upload")


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TYPE job_kind ADD VALUE IF NOT EXISTS 'reindex'")
    else:  # elsewhere the enum is a VARCHAR as long as its longest value
        with op.batch_alter_table("jobs") as batch:
            batch.alter_column(
                "kind",
                existing_type=sa.Enum(*KINDS, name="job_kind"),
                type_=sa.Enum(*KINDS, "reindex", name="job_kind"),
                existing_nullable=False,
            )
    with op.batch_alter_table("documents") as batch:
        batch.add_column(
            sa.Column("groups_pinned", sa.Boolean, nullable=False, server_default=sa.false())
        )


def downgrade() -> None:
    with op.batch_alter_table("documents") as batch:
        batch.drop_column("groups_pinned")
    op.execute("DELETE FROM jobs WHERE kind = 'reindex'")
    if op.get_bind().dialect.name != "postgresql":  # PostgreSQL cannot drop an enum value
        with op.batch_alter_table("jobs") as batch:
            batch.alter_column(
                "kind",
                existing_type=sa.Enum(*KINDS, "reindex", name="job_kind"),
                type_=sa.Enum(*KINDS, name="job_kind"),
                existing_nullable=False,
            )
