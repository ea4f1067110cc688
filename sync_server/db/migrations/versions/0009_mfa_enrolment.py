"""Two-step sign-in enrolment: a pending TOTP secret, recovery codes, MFA required per role.

Revision ID: 0009_mfa_enrolment
Revises: 0009_permission_names
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009_mfa_enrolment"
down_revision: str | Sequence[str] | None = "0009_permission_names"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Plain ADD COLUMN (no batch copy): on SQLite a batch copy drops the old table, and
    # with foreign keys on that would cascade-delete role_permissions and user_roles.
    op.add_column("users", sa.Column("totp_pending_secret", sa.String(64), nullable=True))
    op.add_column("roles", sa.Column("mfa_required", sa.Boolean(), nullable=False,
                                     server_default=sa.false()))
    op.create_table(
        "recovery_codes",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("organization_id", sa.String(36), nullable=False),
        sa.Column("user_id", sa.String(36), nullable=False),
        sa.Column("code_hash", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["organization_id"], ["organizations.id"], ondelete="CASCADE",
                                name=op.f("fk_recovery_codes_organization_id_organizations")),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE",
                                name=op.f("fk_recovery_codes_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_recovery_codes")),
    )
    op.create_index(op.f("ix_recovery_codes_organization_id"), "recovery_codes",
                    ["organization_id"])
    op.create_index(op.f("ix_recovery_codes_user_id"), "recovery_codes", ["user_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_recovery_codes_user_id"), table_name="recovery_codes")
    op.drop_index(op.f("ix_recovery_codes_organization_id"), table_name="recovery_codes")
    op.drop_table("recovery_codes")
    op.drop_column("roles", "mfa_required")  # SQLite 3.35+ drops a column in place
    op.drop_column("users", "totp_pending_secret")
