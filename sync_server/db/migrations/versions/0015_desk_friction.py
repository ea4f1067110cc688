"""Appointment types named per language (issue 18): ``appointment_types.names``, a JSON
list of ``[language, name]`` pairs; ``name`` stays the name for any other language.

Revision ID: 0015_desk_friction
Revises: 0013_followups_outages
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015_desk_friction"
down_revision: str | Sequence[str] | None = "0013_followups_outages"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("appointment_types", sa.Column("names", sa.JSON(), nullable=False,
                                                 server_default="[]"))


def downgrade() -> None:
    op.drop_column("appointment_types", "names")
