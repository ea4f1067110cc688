"""sync_state remembers its organization; blockouts get a deleted (tombstone) flag

``sync_state.organization_id`` is the organization the desk was enrolled in: a
pull answer holding another organization's records is refused, and enrolling
into another organization does not mix two clinics' data in one store.
Desks enrolled before this revision learn it from their next pull.

``blockouts.deleted`` lets a lifted blockout stay in the mirror, marked deleted
and pending, until the server has judged the lift: if the server refuses it,
the rebase restores the row instead of losing it.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26 09:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("sync_state", schema=None) as batch_op:
        batch_op.add_column(sa.Column("organization_id", sa.String(length=64), nullable=True))
    with op.batch_alter_table("blockouts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("deleted", sa.Boolean(), nullable=False,
                                      server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table("blockouts", schema=None) as batch_op:
        batch_op.drop_column("deleted")
    with op.batch_alter_table("sync_state", schema=None) as batch_op:
        batch_op.drop_column("organization_id")
