"""the outbox names the user who made each change; appointment types named per language

* ``outbox.user_id``: the user signed in when the change was queued. The push sends it
  with the mutation; the server judges the change with that user's permissions and names
  the user in its audit. Entries queued before this revision have none (the server then
  uses the front desk's permissions, as before).
* ``appointment_types.names``: the type's name per language (``[[language, name], …]``),
  mirrored from the server.

Revision ID: 0007
Revises: 0004
Create Date: 2026-12-03 11:55:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.add_column(sa.Column("user_id", sa.String(length=64), nullable=True))
    with op.batch_alter_table("appointment_types", schema=None) as batch_op:
        batch_op.add_column(sa.Column("names", sa.JSON(), nullable=False,
                                      server_default="[]"))


def downgrade() -> None:
    with op.batch_alter_table("appointment_types", schema=None) as batch_op:
        batch_op.drop_column("names")
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_column("user_id")
