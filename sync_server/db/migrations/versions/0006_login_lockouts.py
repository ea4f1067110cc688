"""Sign-in lockouts per (account, client address).

``login_lockouts`` counts the failed sign-ins of one account from one client
address and pauses only that pair, so wrong passwords from elsewhere cannot lock
an administrator out. ``users.failed_attempts`` / ``users.locked_until`` are no
longer written (kept for older rows; an old lock still ends at its time).

Revision ID: 0006
Revises: 0005_calendar_feeds
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005_calendar_feeds"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "login_lockouts",
        sa.Column("user_id", sa.String(36), nullable=False),
        sa.Column("client_address", sa.String(64), nullable=False),
        sa.Column("organization_id", sa.String(36), nullable=False),
        sa.Column("failed_attempts", sa.Integer(), nullable=False),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE",
                                name=op.f("fk_login_lockouts_user_id_users")),
        sa.ForeignKeyConstraint(["organization_id"], ["organizations.id"], ondelete="CASCADE",
                                name=op.f("fk_login_lockouts_organization_id_organizations")),
        sa.PrimaryKeyConstraint("user_id", "client_address", name=op.f("pk_login_lockouts")),
    )
    op.create_index(op.f("ix_login_lockouts_organization_id"), "login_lockouts",
                    ["organization_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_login_lockouts_organization_id"), table_name="login_lockouts")
    op.drop_table("login_lockouts")
