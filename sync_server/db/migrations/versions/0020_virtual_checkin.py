"""Issue 17 item 3: virtual check-in. ``appointments.virtual_checkin_at`` (when the
patient checked in from the portal for a telemedicine visit) and the organization's
check-in window on ``portal_settings`` (minutes before and after the start; null: the
default of :mod:`scheduling.checkin`).

Revision ID: 0020_virtual_checkin
Revises: 0019_telemedicine_visits
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0020_virtual_checkin"
down_revision: str | Sequence[str] | None = "0019_telemedicine_visits"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_WINDOW = ("checkin_opens_minutes", "checkin_closes_minutes")

# Plain ADD COLUMN: a batch copy of a referenced table would cascade-delete on SQLite.


def upgrade() -> None:
    op.add_column("appointments", sa.Column("virtual_checkin_at", sa.DateTime(timezone=True),
                                            nullable=True))
    for name in _WINDOW:
        op.add_column("portal_settings", sa.Column(name, sa.Integer(), nullable=True))


def downgrade() -> None:
    for name in reversed(_WINDOW):
        op.drop_column("portal_settings", name)
    op.drop_column("appointments", "virtual_checkin_at")
