"""Issue 19 item 5: a late-cancellation fee waived (or reduced) after it was posted —
the ``fee_waivers`` table (amount, reason, who, when) and the waived total on the
appointment's financial record.

Revision ID: 0022_fee_waivers
Revises: 0021_telemedicine_sessions
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0022_fee_waivers"
down_revision: str | Sequence[str] | None = "0021_telemedicine_sessions"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.String(36)

# Plain ADD COLUMN: a batch copy of a referenced table would cascade-delete on SQLite.


def upgrade() -> None:
    op.add_column("appointment_financials", sa.Column(
        "fee_waived", sa.Numeric(10, 2), nullable=False, server_default="0"))
    op.create_table(
        "fee_waivers",
        sa.Column("id", _ID, nullable=False),
        sa.Column("organization_id", _ID, nullable=False),
        sa.Column("appointment_id", sa.String(64), nullable=False),
        sa.Column("amount", sa.Numeric(10, 2), nullable=False),
        sa.Column("reason", sa.String(500), nullable=False),
        sa.Column("waived_by", _ID, nullable=True),
        sa.Column("waived_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["appointment_id"], ["appointments.id"], ondelete="CASCADE",
                                name=op.f("fk_fee_waivers_appointment_id_appointments")),
        sa.ForeignKeyConstraint(["organization_id"], ["organizations.id"], ondelete="CASCADE",
                                name=op.f("fk_fee_waivers_organization_id_organizations")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fee_waivers")),
    )
    op.create_index(op.f("ix_fee_waivers_organization_id"), "fee_waivers", ["organization_id"])
    op.create_index(op.f("ix_fee_waivers_appointment_id"), "fee_waivers", ["appointment_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_fee_waivers_appointment_id"), table_name="fee_waivers")
    op.drop_index(op.f("ix_fee_waivers_organization_id"), table_name="fee_waivers")
    op.drop_table("fee_waivers")
    op.drop_column("appointment_financials", "fee_waived")
