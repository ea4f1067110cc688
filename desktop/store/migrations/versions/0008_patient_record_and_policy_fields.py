"""the patient record, a booking policy's late-cancellation fee and a provider's colour

* ``patients.date_of_birth`` (ISO text, empty when unknown), ``address``,
  ``insurance_provider`` and ``insurance_id`` (seed 002), mirrored from the server like
  every patient field; patients already stored get them at the next pull that changes
  them (empty until then).
* ``appointment_types.late_cancellation_fee_cents`` (seed 003: the fee of a late
  cancellation, none when null) and ``resources.color`` (a provider's agenda colour).
* ``quotas.department_id``: a quota counting one department's providers only.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03 11:40:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | Sequence[str] | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_PATIENT_TEXT = (("date_of_birth", 10), ("address", None), ("insurance_provider", 100),
                 ("insurance_id", 50))


def upgrade() -> None:
    with op.batch_alter_table("patients", schema=None) as batch_op:
        for name, length in _PATIENT_TEXT:
            batch_op.add_column(sa.Column(name, sa.String(length=length), nullable=False,
                                          server_default=""))
    with op.batch_alter_table("appointment_types", schema=None) as batch_op:
        batch_op.add_column(sa.Column("late_cancellation_fee_cents", sa.Integer(),
                                      nullable=True))
    with op.batch_alter_table("resources", schema=None) as batch_op:
        batch_op.add_column(sa.Column("color", sa.String(length=16), nullable=False,
                                      server_default=""))
    with op.batch_alter_table("quotas", schema=None) as batch_op:
        batch_op.add_column(sa.Column("department_id", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("quotas", schema=None) as batch_op:
        batch_op.drop_column("department_id")
    with op.batch_alter_table("resources", schema=None) as batch_op:
        batch_op.drop_column("color")
    with op.batch_alter_table("appointment_types", schema=None) as batch_op:
        batch_op.drop_column("late_cancellation_fee_cents")
    with op.batch_alter_table("patients", schema=None) as batch_op:
        for name, _length in reversed(_PATIENT_TEXT):
            batch_op.drop_column(name)
