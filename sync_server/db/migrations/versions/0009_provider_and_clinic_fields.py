"""Seed 002's provider fields (specialty, licence number, user account) and a clinic's
address and opening hours.

Revision ID: 0009_provider_and_clinic_fields
Revises: 0009_mfa_enrolment
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009_provider_and_clinic_fields"
down_revision: str | Sequence[str] | None = "0009_mfa_enrolment"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Plain ADD COLUMN: a batch copy of a referenced table would cascade-delete on SQLite.


def upgrade() -> None:
    op.add_column("clinics", sa.Column("address", sa.Text(), nullable=False,
                                       server_default=""))
    op.add_column("clinics", sa.Column("opening_hours", sa.String(200), nullable=False,
                                       server_default=""))
    op.add_column("resources", sa.Column("specialty", sa.String(200), nullable=False,
                                         server_default=""))
    op.add_column("resources", sa.Column("licence_number", sa.String(50), nullable=False,
                                         server_default=""))
    op.add_column("resources", sa.Column("user_id", sa.String(36), nullable=True))


def downgrade() -> None:
    for table, column in (("resources", "user_id"), ("resources", "licence_number"),
                          ("resources", "specialty"), ("clinics", "opening_hours"),
                          ("clinics", "address")):
        op.drop_column(table, column)
