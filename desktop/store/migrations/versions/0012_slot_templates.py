"""slot templates mirrored on the desk; the next pull reads the log again

``slot_templates`` mirrors the server's named slot templates (issue 19 item 6) so the
agenda can outline them and book into them. Templates made before this revision are
in the server's log already, behind the desk's cursor: the cursor goes back to 0 so
the next pull reads the log once more (records are upserted, pending rows are spared,
conflicts already in the inbox are not added twice). This also brings the visit and
template ids of appointments stored before store revision 0009.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03 16:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | Sequence[str] | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "slot_templates",
        sa.Column("provider_id", sa.String(length=64), nullable=False),
        sa.Column("clinic_id", sa.String(length=64), nullable=False),
        sa.Column("weekday", sa.Integer(), nullable=False),
        sa.Column("start", sa.Time(), nullable=False),
        sa.Column("end", sa.Time(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("appointment_type_id", sa.String(length=64), nullable=True),
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("server_version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_slot_templates")),
    )
    with op.batch_alter_table("slot_templates", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_slot_templates_provider_id"), ["provider_id"],
                              unique=False)
    op.execute("UPDATE sync_state SET server_version = 0")


def downgrade() -> None:
    with op.batch_alter_table("slot_templates", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_slot_templates_provider_id"))
    op.drop_table("slot_templates")
