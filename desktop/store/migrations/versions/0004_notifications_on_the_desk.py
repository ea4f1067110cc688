"""notifications on the desk: patients' contact preferences, the last staff alerts read

* ``patients.contact_preference`` (which channels, in which order: ``email``, ``sms``,
  ``email_then_sms``, ``sms_then_email``, ``none``) and ``patients.reminders_opt_out``,
  mirrored from the server like every patient field. Patients already stored get the
  server's defaults (e-mail, then SMS; reminders on) until the next pull says otherwise.
* ``staff_alerts`` and ``sync_state.staff_alerts_read_at``: the exceptions panel's last
  list and when it was read, shown (marked offline) when the server cannot be reached.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03 08:10:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("patients", schema=None) as batch_op:
        batch_op.add_column(sa.Column("contact_preference", sa.String(length=16),
                                      nullable=False, server_default="email_then_sms"))
        batch_op.add_column(sa.Column("reminders_opt_out", sa.Boolean(), nullable=False,
                                      server_default=sa.false()))
    with op.batch_alter_table("sync_state", schema=None) as batch_op:
        batch_op.add_column(sa.Column("staff_alerts_read_at", sa.String(length=32), nullable=True))
    op.create_table(
        "staff_alerts",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("appointment_id", sa.String(length=64), nullable=False),
        sa.Column("patient_id", sa.String(length=64), nullable=False),
        sa.Column("appointment_start", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=40), nullable=False),
        sa.Column("channels_tried", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_staff_alerts")),
    )


def downgrade() -> None:
    op.drop_table("staff_alerts")
    with op.batch_alter_table("sync_state", schema=None) as batch_op:
        batch_op.drop_column("staff_alerts_read_at")
    with op.batch_alter_table("patients", schema=None) as batch_op:
        batch_op.drop_column("reminders_opt_out")
        batch_op.drop_column("contact_preference")
