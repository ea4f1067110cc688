"""Financials and the item-1 leftovers of issue 19: what a patient paid and a late
cancellation's fee on an appointment's financial record, the fee in an appointment
type's booking policy, and a provider's colour.

Revision ID: 0016_departments_financials
Revises: 0009_provider_and_clinic_fields
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016_departments_financials"
down_revision: str | Sequence[str] | None = "0009_provider_and_clinic_fields"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Plain ADD COLUMN: a batch copy of a referenced table would cascade-delete on SQLite.


def upgrade() -> None:
    op.add_column("resources", sa.Column("color", sa.String(16), nullable=False,
                                         server_default=""))
    op.add_column("appointment_types", sa.Column("late_cancellation_fee_cents", sa.Integer(),
                                                 nullable=True))
    op.add_column("appointment_financials", sa.Column(
        "amount_paid", sa.Numeric(10, 2), nullable=False, server_default="0"))
    op.add_column("appointment_financials", sa.Column(
        "late_cancellation_fee", sa.Numeric(10, 2), nullable=False, server_default="0"))
    op.add_column("appointment_financials", sa.Column(
        "late_cancellation", sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade() -> None:
    for table, column in (("appointment_financials", "late_cancellation"),
                          ("appointment_financials", "late_cancellation_fee"),
                          ("appointment_financials", "amount_paid"),
                          ("appointment_types", "late_cancellation_fee_cents"),
                          ("resources", "color")):
        op.drop_column(table, column)
