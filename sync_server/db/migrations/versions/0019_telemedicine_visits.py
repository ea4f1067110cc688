"""Telemedicine visits (issue 17, items 1 and 2): the organization's video link template,
providers' own links, a video room per telemedicine appointment, versioned consent forms
and their acceptances, encrypted pre-visit documents (models in
``sync_server/telemedicine/models.py``).

Revision ID: 0019_telemedicine_visits
Revises: 0018_care_loop_gaps
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019_telemedicine_visits"
down_revision: str | Sequence[str] | None = "0018_care_loop_gaps"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.String(36)


def _instant(name: str) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, sa.DateTime(timezone=True), nullable=False)


def _org() -> sa.Column:  # type: ignore[type-arg]
    return sa.Column("organization_id", _ID, sa.ForeignKey("organizations.id", ondelete="CASCADE"),
                     nullable=False, index=True)


def upgrade() -> None:
    op.create_table(
        "telemedicine_settings",
        sa.Column("organization_id", _ID, sa.ForeignKey("organizations.id", ondelete="CASCADE"),
                  primary_key=True),
        sa.Column("url_template", sa.String(500), nullable=False),
        _instant("updated_at"),
    )
    op.create_table(
        "provider_video_links",
        sa.Column("provider_id", _ID, sa.ForeignKey("resources.id", ondelete="CASCADE"),
                  primary_key=True),
        _org(),
        sa.Column("url", sa.String(500), nullable=False),
        _instant("updated_at"),
    )
    op.create_table(
        "video_rooms",
        sa.Column("appointment_id", sa.String(64), primary_key=True),
        _org(),
        sa.Column("room", sa.String(64), nullable=False, unique=True),
        _instant("created_at"),
    )
    op.create_table(
        "consent_forms",
        sa.Column("id", _ID, primary_key=True),
        _org(),
        sa.Column("appointment_type_id", _ID,
                  sa.ForeignKey("appointment_types.id", ondelete="CASCADE"), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("text_en", sa.String(20_000), nullable=False),
        sa.Column("text_es", sa.String(20_000), nullable=False),
        sa.Column("created_by", _ID, nullable=True),
        _instant("created_at"),
        sa.CheckConstraint("version >= 1", name="version"),
    )
    op.create_index("uq_consent_forms_type_version", "consent_forms",
                    ["appointment_type_id", "version"], unique=True)
    op.create_table(
        "consent_acceptances",
        sa.Column("id", _ID, primary_key=True),
        _org(),
        sa.Column("appointment_id", sa.String(64), nullable=False),
        sa.Column("patient_id", _ID, nullable=False),
        sa.Column("consent_form_id", _ID, sa.ForeignKey("consent_forms.id"), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("language", sa.String(8), nullable=False),
        _instant("accepted_at"),
        sa.CheckConstraint("channel IN ('portal', 'desk')", name="channel"),
    )
    op.create_index("ix_consent_acceptances_appointment", "consent_acceptances",
                    ["appointment_id", "accepted_at"])
    op.create_table(
        "visit_documents",
        sa.Column("id", _ID, primary_key=True),
        _org(),
        sa.Column("appointment_id", sa.String(64), nullable=False),
        sa.Column("content_type", sa.String(32), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("name_sealed", sa.LargeBinary(), nullable=False),
        sa.Column("content_sealed", sa.LargeBinary(), nullable=False),
        _instant("uploaded_at"),
        sa.CheckConstraint("content_type IN ('application/pdf', 'image/jpeg', 'image/png')",
                           name="content_type"),
    )
    op.create_index("ix_visit_documents_appointment", "visit_documents",
                    ["appointment_id", "uploaded_at"])


def downgrade() -> None:
    for table in ("visit_documents", "consent_acceptances", "consent_forms", "video_rooms",
                  "provider_video_links", "telemedicine_settings"):
        op.drop_table(table)
