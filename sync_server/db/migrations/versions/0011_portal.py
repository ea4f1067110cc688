"""The patient portal: sign-in codes, portal sessions, the widget's allowed sites
(models in ``sync_server/portal/models.py``).

Revision ID: 0011_portal
Revises: 0010_fhir_clients
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011_portal"
down_revision: str | Sequence[str] | None = "0010_fhir_clients"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_WHEN = sa.DateTime(timezone=True)


def _org(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(["organization_id"], ["organizations.id"], ondelete="CASCADE",
                                   name=op.f(f"fk_{table}_organization_id_organizations"))


def upgrade() -> None:
    op.create_table(
        "portal_settings",
        sa.Column("organization_id", sa.String(36), nullable=False),
        sa.Column("widget_sites", sa.JSON(), nullable=False),
        sa.Column("updated_at", _WHEN, nullable=False),
        _org("portal_settings"),
        sa.PrimaryKeyConstraint("organization_id", name=op.f("pk_portal_settings")),
    )
    op.create_table(
        "portal_codes",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("organization_id", sa.String(36), nullable=False),
        sa.Column("address_hash", sa.String(64), nullable=False),
        sa.Column("code_hash", sa.String(64), nullable=False),
        sa.Column("created_at", _WHEN, nullable=False),
        sa.Column("expires_at", _WHEN, nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("used_at", _WHEN, nullable=True),
        _org("portal_codes"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_portal_codes")),
    )
    op.create_index(op.f("ix_portal_codes_organization_id"), "portal_codes", ["organization_id"])
    op.create_index("ix_portal_codes_org_address", "portal_codes",
                    ["organization_id", "address_hash"])
    op.create_table(
        "portal_sessions",
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("organization_id", sa.String(36), nullable=False),
        sa.Column("channel", sa.String(8), nullable=False),
        sa.Column("address", sa.String(320), nullable=False),
        sa.Column("code_id", sa.String(36), nullable=True),
        sa.Column("verified_at", _WHEN, nullable=True),
        sa.Column("patient_id", sa.String(36), nullable=True),
        sa.Column("handoff_id", sa.String(64), nullable=True),
        sa.Column("created_at", _WHEN, nullable=False),
        sa.Column("expires_at", _WHEN, nullable=False),
        _org("portal_sessions"),
        sa.PrimaryKeyConstraint("token_hash", name=op.f("pk_portal_sessions")),
    )
    op.create_index(op.f("ix_portal_sessions_organization_id"), "portal_sessions",
                    ["organization_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_portal_sessions_organization_id"), table_name="portal_sessions")
    op.drop_table("portal_sessions")
    op.drop_index("ix_portal_codes_org_address", table_name="portal_codes")
    op.drop_index(op.f("ix_portal_codes_organization_id"), table_name="portal_codes")
    op.drop_table("portal_codes")
    op.drop_table("portal_settings")
