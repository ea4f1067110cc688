"""Indexes for loading a clinic's appointments in a time window.

* ``appointments (organization_id, clinic_id, block_start)``: the clinic's
  appointments in a window, read as a bounded ``block_start`` range.
* ``appointments (organization_id, <block_end - block_start>)``: the longest
  buffered block of an organization, which bounds that range from below
  (``block_start >= since - longest``) — any appointment starting earlier ends
  before the window. An expression index, so it differs by backend
  (``julianday`` arithmetic on SQLite, an ``interval`` on PostgreSQL) and the
  query in ``sync_server/services/calendar/queries.py`` must use the same expression.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_BLOCK_LENGTH = {
    "postgresql": "(block_end - block_start)",
    "sqlite": "(julianday(block_end) - julianday(block_start))",
}


def upgrade() -> None:
    op.create_index("ix_appointments_org_clinic_block", "appointments",
                    ["organization_id", "clinic_id", "block_start"])
    dialect = op.get_bind().dialect.name
    if dialect in _BLOCK_LENGTH:
        op.execute(f"CREATE INDEX ix_appointments_org_block_length ON appointments "
                   f"(organization_id, {_BLOCK_LENGTH[dialect]})")


def downgrade() -> None:
    op.execute("DROP INDEX IF EXISTS ix_appointments_org_block_length")
    op.drop_index("ix_appointments_org_clinic_block", table_name="appointments")
