"""sources.root unique: a folder belongs to one source

Uploads wrote to the folder named by a source name's slug while ownership was checked on the
exact name, so two names could share one folder (issue 24). Documents are keyed by path,
hence a folder must have one owner.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    shared = (
        op.get_bind()
        .execute(sa.text("SELECT root, COUNT(*) FROM sources GROUP BY root HAVING COUNT(*) > 1"))
        .all()
    )
    if shared:
        folders = ", ".join(row[0] for row in shared)
        raise RuntimeError(
            f"several sources share a folder ({folders}); keep one source per folder "
            "(delete the others' rows from the sources table), then upgrade again"
        )
    op.create_index("ix_sources_root", "sources", ["root"], unique=True)


def downgrade() -> None:
    op.drop_index("ix_sources_root", table_name="sources")
