"""Departments, financials and the item-1 leftovers of issue 19: users' departments,
department-scoped roles and department quotas; what a patient paid and a late
cancellation's fee on an appointment's financial record, the fee in an appointment
type's booking policy, and a provider's colour.

Revision ID: 0016_departments_financials
Revises: 0015_desk_friction
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016_departments_financials"
down_revision: str | Sequence[str] | None = "0015_desk_friction"
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
    op.add_column("roles", sa.Column("department_scoped", sa.Boolean(), nullable=False,
                                     server_default=sa.false()))
    op.add_column("quotas", sa.Column("department_id", sa.String(36), nullable=True))
    op.create_table(
        "user_departments",
        sa.Column("user_id", sa.String(36), nullable=False),
        sa.Column("department_id", sa.String(36), nullable=False),
        sa.Column("organization_id", sa.String(36), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE",
                                name=op.f("fk_user_departments_user_id_users")),
        sa.ForeignKeyConstraint(["department_id"], ["departments.id"], ondelete="CASCADE",
                                name=op.f("fk_user_departments_department_id_departments")),
        sa.ForeignKeyConstraint(["organization_id"], ["organizations.id"], ondelete="CASCADE",
                                name=op.f("fk_user_departments_organization_id_organizations")),
        sa.PrimaryKeyConstraint("user_id", "department_id", name=op.f("pk_user_departments")),
    )
    op.create_index(op.f("ix_user_departments_organization_id"), "user_departments",
                    ["organization_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_user_departments_organization_id"), "user_departments")
    op.drop_table("user_departments")
    for table, column in (("quotas", "department_id"), ("roles", "department_scoped"),
                          ("appointment_financials", "late_cancellation"),
                          ("appointment_financials", "late_cancellation_fee"),
                          ("appointment_financials", "amount_paid"),
                          ("appointment_types", "late_cancellation_fee_cents"),
                          ("resources", "color")):
        op.drop_column(table, column)
