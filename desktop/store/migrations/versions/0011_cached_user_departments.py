"""the department context of a cached user (issue 19 item 4)

``cached_users.departments``: the departments whose calendar the user sees, as the
server said at their last online sign-in (``[[id, name], ...]``), or null for a user
without department limits. Users already cached get null (everything) until their next
online sign-in.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03 16:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | Sequence[str] | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("cached_users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("departments", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("cached_users", schema=None) as batch_op:
        batch_op.drop_column("departments")
