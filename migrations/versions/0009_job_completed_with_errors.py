"""job_status gains 'completed_with_errors': a job some of whose files failed while others
were indexed. A job every file of which failed is now 'failed' (issue 24: it said
'succeeded')

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

STATUSES = ("queued", "running", "succeeded", "failed")


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TYPE job_status ADD VALUE IF NOT EXISTS 'completed_with_errors'")
    else:  # elsewhere the enum is a VARCHAR as long as its longest value
        with op.batch_alter_table("jobs") as batch:
            batch.alter_column(
                "status",
                existing_type=sa.Enum(*STATUSES, name="job_status"),
                type_=sa.Enum(*STATUSES, "completed_with_errors", name="job_status"),
                existing_nullable=False,
            )


def downgrade() -> None:
    # What these jobs were called before.
    op.execute("UPDATE jobs SET status = 'succeeded' WHERE status = 'completed_with_errors'")
    if op.get_bind().dialect.name != "postgresql":  # PostgreSQL cannot drop an enum value
        with op.batch_alter_table("jobs") as batch:
            batch.alter_column(
                "status",
                existing_type=sa.Enum(*STATUSES, "completed_with_errors", name="job_status"),
                type_=sa.Enum(*STATUSES, name="job_status"),
                existing_nullable=False,
            )
