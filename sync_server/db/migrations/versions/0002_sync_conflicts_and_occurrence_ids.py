"""Occurrence ids, conflict details, change-log lookup, audit outcome width.

* Series occurrences have ids ``<series id>@<YYYYmmddTHHMM>`` (50 characters,
  ``scheduling.series.occurrence_id``), so appointment ids and the columns that
  refer to them (and the change log's ``entity_id``) widen to 64.
* A conflict keeps what the desk tried (intent ``name`` and ``args``) for the
  desk's conflict inbox.
* ``change_log`` gets an index on (organization, entity, id, version): pull
  serves only the latest state of each record.
* ``audit_log.outcome`` widens to 32 (``accepted_with_override``).

SQLite does not enforce ``VARCHAR`` lengths, so the widening runs on PostgreSQL only.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_WIDENED = (
    ("appointments", "id", 36, 64),
    ("appointment_resources", "appointment_id", 36, 64),
    ("appointment_financials", "appointment_id", 36, 64),
    ("change_log", "entity_id", 36, 64),
    ("audit_log", "outcome", 16, 32),
)


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table, column, _old, new in _WIDENED:
            op.alter_column(table, column, type_=sa.String(length=new))
    with op.batch_alter_table("conflicts") as batch_op:
        batch_op.add_column(sa.Column("name", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("args", sa.JSON(), nullable=True))
    op.create_index(
        "ix_change_log_org_entity", "change_log",
        ["organization_id", "entity", "entity_id", "version"],
    )


def downgrade() -> None:
    op.drop_index("ix_change_log_org_entity", table_name="change_log")
    with op.batch_alter_table("conflicts") as batch_op:
        batch_op.drop_column("args")
        batch_op.drop_column("name")
    if op.get_bind().dialect.name == "postgresql":
        for table, column, old, _new in _WIDENED:
            op.alter_column(table, column, type_=sa.String(length=old))
