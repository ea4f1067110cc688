"""Notifications: the outbox, staff alerts, per-organization settings and templates,
used reply links, and the patient's contact preference and reminder opt-out
(models in ``sync_server/notifications/models.py``).

Revision ID: 0007_notifications
Revises: 0006
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007_notifications"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.String(36)


def _instant(name: str, nullable: bool = False) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _org(primary_key: bool = False) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column("organization_id", _ID, sa.ForeignKey("organizations.id", ondelete="CASCADE"),
                     nullable=False, index=not primary_key, primary_key=primary_key)


def upgrade() -> None:
    with op.batch_alter_table("patients") as batch:
        batch.add_column(sa.Column("contact_preference", sa.String(16), nullable=False,
                                   server_default="email_then_sms"))
        batch.add_column(sa.Column("reminders_opt_out", sa.Boolean(), nullable=False,
                                   server_default=sa.false()))
    op.create_table(
        "notifications",
        sa.Column("id", _ID, primary_key=True),
        _org(),
        sa.Column("clinic_id", _ID, nullable=False),
        sa.Column("appointment_id", sa.String(64), nullable=False),
        sa.Column("patient_id", _ID, nullable=False),
        _instant("occurrence_start"),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("offset_minutes", sa.Integer(), nullable=False),
        sa.Column("recipient", sa.String(40), nullable=False),
        sa.Column("channel", sa.String(8), nullable=False),
        sa.Column("state", sa.String(8), nullable=False),
        _instant("due_at"),
        _instant("next_attempt_at"),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("lease_owner", sa.String(64), nullable=True),
        _instant("lease_until", True),
        sa.Column("provider_message_id", sa.String(200), nullable=True),
        sa.Column("error_code", sa.String(40), nullable=True),
        sa.Column("recipient_hint", sa.String(64), nullable=True),
        sa.Column("fallback_of", _ID, nullable=True),
        _instant("sent_at", True),
        _instant("created_at"),
        _instant("updated_at"),
        sa.CheckConstraint(
            "kind IN ('created', 'modified', 'cancelled', 'reminder', 'staff-alert')",
            name="kind"),
        sa.CheckConstraint("channel IN ('email', 'sms', 'desk')", name="channel"),
        sa.CheckConstraint(
            "state IN ('pending', 'sending', 'sent', 'failed', 'void', 'skipped')",
            name="state"),
    )
    op.create_index("uq_notifications_key", "notifications",
                    ["appointment_id", "occurrence_start", "kind", "offset_minutes",
                     "recipient", "channel"], unique=True)
    op.create_index("ix_notifications_due", "notifications", ["state", "next_attempt_at"])
    op.create_table(
        "notification_exceptions",
        sa.Column("id", _ID, primary_key=True),
        _org(),
        sa.Column("notification_id", _ID, nullable=False, unique=True),
        sa.Column("appointment_id", sa.String(64), nullable=False),
        sa.Column("patient_id", _ID, nullable=False),
        _instant("appointment_start"),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("reason", sa.String(40), nullable=False),
        sa.Column("channels_tried", sa.JSON(), nullable=False),
        _instant("created_at"),
        _instant("resolved_at", True),
        sa.Column("resolved_by", _ID, nullable=True),
        sa.Column("resolution_note", sa.String(500), nullable=True),
    )
    op.create_index("ix_notification_exceptions_org_open", "notification_exceptions",
                    ["organization_id", "resolved_at"])
    op.create_table(
        "notification_settings",
        _org(primary_key=True),
        sa.Column("reminder_offsets", sa.JSON(), nullable=False),
        sa.Column("type_offsets", sa.JSON(), nullable=False),
        sa.Column("quiet_start", sa.String(5), nullable=True),
        sa.Column("quiet_end", sa.String(5), nullable=True),
        sa.Column("fallback_delay_minutes", sa.Integer(), nullable=False),
        sa.Column("notice_delay_seconds", sa.Integer(), nullable=False),
        sa.Column("reply_link_hours", sa.Integer(), nullable=False),
        sa.Column("public_base_url", sa.String(500), nullable=False),
        sa.Column("clinic_phone", sa.String(32), nullable=False),
        sa.Column("email_enabled", sa.Boolean(), nullable=False),
        sa.Column("smtp_host", sa.String(255), nullable=False),
        sa.Column("smtp_port", sa.Integer(), nullable=False),
        sa.Column("smtp_username", sa.String(255), nullable=True),
        sa.Column("smtp_password", sa.String(500), nullable=True),
        sa.Column("smtp_starttls", sa.Boolean(), nullable=False),
        sa.Column("email_sender", sa.String(320), nullable=False),
        sa.Column("sms_enabled", sa.Boolean(), nullable=False),
        sa.Column("sms_gateway_url", sa.String(500), nullable=False),
        sa.Column("sms_account_id", sa.String(100), nullable=True),
        sa.Column("sms_api_key", sa.String(500), nullable=True),
        sa.Column("sms_sender", sa.String(32), nullable=False),
        _instant("updated_at"),
    )
    op.create_table(
        "notification_templates",
        _org(primary_key=True),
        sa.Column("kind", sa.String(16), primary_key=True),
        sa.Column("channel", sa.String(8), primary_key=True),
        sa.Column("language", sa.String(8), primary_key=True),
        sa.Column("subject", sa.String(500), nullable=True),
        sa.Column("body_text", sa.String(20000), nullable=False),
        sa.Column("body_html", sa.String(20000), nullable=True),
        _instant("updated_at"),
    )
    op.create_table(
        "notification_replies",
        sa.Column("notification_id", _ID, primary_key=True),
        _org(),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("via", sa.String(16), nullable=False),
        sa.Column("outcome", sa.String(32), nullable=False),
        _instant("at"),
    )


def downgrade() -> None:
    op.drop_table("notification_replies")
    op.drop_table("notification_templates")
    op.drop_table("notification_settings")
    op.drop_index("ix_notification_exceptions_org_open", "notification_exceptions")
    op.drop_table("notification_exceptions")
    op.drop_index("ix_notifications_due", "notifications")
    op.drop_index("uq_notifications_key", "notifications")
    op.drop_table("notifications")
    with op.batch_alter_table("patients") as batch:
        batch.drop_column("reminders_opt_out")
        batch.drop_column("contact_preference")
