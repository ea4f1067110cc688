"""virtual check-in of issue 17 item 3, mirrored from the server

``appointments.virtual_checkin_at``: when the patient checked in from the portal for a
telemedicine visit (an ISO UTC instant, as every instant of the store). Appointments
already stored get null until the next pull says otherwise.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03 16:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | Sequence[str] | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("appointments", schema=None) as batch_op:
        batch_op.add_column(sa.Column("virtual_checkin_at", sa.String(length=32),
                                      nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("appointments", schema=None) as batch_op:
        batch_op.drop_column("virtual_checkin_at")
