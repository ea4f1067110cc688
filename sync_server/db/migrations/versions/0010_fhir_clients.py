"""Hand-off / FHIR API clients per organization, seed-004 hand-offs and their
single-use result tokens, and the state of the slots published per SMART Scheduling
Links (models in ``sync_server/fhir/models.py``).

Revision ID: 0010_fhir_clients
Revises: 0009_provider_and_clinic_fields
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010_fhir_clients"
down_revision: str | Sequence[str] | None = "0009_provider_and_clinic_fields"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.String(36)
_APPOINTMENT_ID = sa.String(64)


def _instant(name: str, nullable: bool = False) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _org() -> sa.Column:  # type: ignore[type-arg]
    return sa.Column("organization_id", _ID, sa.ForeignKey("organizations.id", ondelete="CASCADE"),
                     nullable=False, index=True)


def _client() -> sa.Column:  # type: ignore[type-arg]
    return sa.Column("client_id", _ID, sa.ForeignKey("fhir_clients.id", ondelete="CASCADE"),
                     nullable=False)


def upgrade() -> None:
    op.create_table(
        "fhir_clients",
        sa.Column("id", _ID, primary_key=True),
        _org(),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("client_id", sa.String(64), nullable=False, unique=True),
        sa.Column("secret_hash", sa.String(64), nullable=False),
        sa.Column("return_urls", sa.JSON(), nullable=False),
        sa.Column("scopes", sa.JSON(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        _instant("created_at"),
        sa.Column("created_by_user_id", _ID, nullable=True),
        _instant("updated_at"),
    )
    op.create_table(
        "fhir_handoffs",
        sa.Column("id", _ID, primary_key=True),
        _org(),
        _client(),
        sa.Column("state", sa.String(512), nullable=False),
        sa.Column("state_hash", sa.String(64), nullable=False),
        sa.Column("return_url", sa.String(2000), nullable=False),
        _instant("created_at"),
        _instant("expires_at"),
        _instant("finished_at", True),
        sa.Column("outcome", sa.String(20), nullable=True),
        sa.Column("reason", sa.String(20), nullable=True),
        sa.Column("appointment_id", _APPOINTMENT_ID, nullable=True, index=True),
        sa.UniqueConstraint("client_id", "state_hash", name="uq_fhir_handoffs_client_state"),
    )
    op.create_index("ix_fhir_handoffs_org_created", "fhir_handoffs",
                    ["organization_id", "created_at"])
    op.create_table(
        "fhir_result_tokens",
        sa.Column("token_hash", sa.String(64), primary_key=True),
        _org(),
        _client(),
        sa.Column("handoff_id", _ID, sa.ForeignKey("fhir_handoffs.id", ondelete="CASCADE"),
                  nullable=False, index=True),
        sa.Column("appointment_id", _APPOINTMENT_ID, nullable=False),
        _instant("created_at"),
        _instant("expires_at"),
        _instant("used_at", True),
    )
    op.create_table(
        "fhir_publications",
        sa.Column("organization_id", _ID, sa.ForeignKey("organizations.id", ondelete="CASCADE"),
                  primary_key=True),
        _instant("changed_at"),
        sa.Column("digest", sa.String(64), nullable=False),
    )
    op.create_table(
        "fhir_slot_states",
        sa.Column("id", sa.String(64), primary_key=True),
        _org(),
        sa.Column("schedule_id", sa.String(64), nullable=False),
        _instant("start_at"),
        _instant("end_at"),
        sa.Column("status", sa.String(20), nullable=False),
        _instant("changed_at"),
    )
    op.create_index("ix_fhir_slot_states_org_changed", "fhir_slot_states",
                    ["organization_id", "changed_at"])


def downgrade() -> None:
    op.drop_index("ix_fhir_slot_states_org_changed", "fhir_slot_states")
    op.drop_table("fhir_slot_states")
    op.drop_table("fhir_publications")
    op.drop_table("fhir_result_tokens")
    op.drop_index("ix_fhir_handoffs_org_created", "fhir_handoffs")
    op.drop_table("fhir_handoffs")
    op.drop_table("fhir_clients")
