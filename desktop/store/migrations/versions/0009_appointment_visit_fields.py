"""appointment fields of issue 19 item 6, mirrored from the server

``appointments.cancel_category`` (why it was cancelled, one of a fixed list),
``visit_id`` (the visit it is booked with), ``slot_template_id`` (the named slot it was
booked into) and ``encounter_ref`` (an EHR encounter reference). Appointments already
stored get nulls until the next pull says otherwise.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03 12:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | Sequence[str] | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_COLUMNS = (("cancel_category", 40), ("visit_id", 64), ("slot_template_id", 64),
            ("encounter_ref", 200))


def upgrade() -> None:
    with op.batch_alter_table("appointments", schema=None) as batch_op:
        for name, length in _COLUMNS:
            batch_op.add_column(sa.Column(name, sa.String(length=length), nullable=True))
        batch_op.create_index(batch_op.f("ix_appointments_visit_id"), ["visit_id"],
                              unique=False)


def downgrade() -> None:
    with op.batch_alter_table("appointments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_appointments_visit_id"))
        for name, _length in reversed(_COLUMNS):
            batch_op.drop_column(name)
