"""Telemedicine session log and provider no-join (issue 17, items 4–5): join/leave/problem
events, the organization's no-join minutes, one no-join case per appointment, and the
notifications outbox's new ``nojoin-offer`` kind (models in
``sync_server/telemedicine/session_tables.py``; the staff alert kind ``provider-nojoin``
needs no schema change).

Revision ID: 0021_telemedicine_sessions
Revises: 0020_virtual_checkin
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0021_telemedicine_sessions"
down_revision: str | Sequence[str] | None = "0020_virtual_checkin"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.String(36)
_KINDS = ("'created', 'modified', 'cancelled', 'reminder', 'staff-alert', 'waitlist-offer', "
          "'offer-gone', 'no-show', 'invitation', 'rerouted'")  # as migration 0018 left them


def _instant(name: str, nullable: bool = False) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _org() -> sa.Column:  # type: ignore[type-arg]
    return sa.Column("organization_id", _ID, sa.ForeignKey("organizations.id", ondelete="CASCADE"),
                     nullable=False, index=True)


def _notification_kinds(kinds: str) -> None:
    # notifications is referenced by no foreign key: the SQLite batch copy is safe.
    with op.batch_alter_table("notifications") as batch:
        batch.drop_constraint(op.f("ck_notifications_kind"), type_="check")
        batch.create_check_constraint("kind", f"kind IN ({kinds})")


def upgrade() -> None:
    op.create_table(
        "telemedicine_events",
        sa.Column("id", _ID, primary_key=True),
        _org(),
        sa.Column("appointment_id", sa.String(64), nullable=False),
        sa.Column("role", sa.String(8), nullable=False),
        sa.Column("action", sa.String(8), nullable=False),
        sa.Column("provider_id", _ID, nullable=False),
        sa.Column("user_id", _ID, nullable=True),
        sa.Column("problem", sa.String(16), nullable=True),
        sa.Column("problem_text", sa.String(300), nullable=True),
        _instant("at"),
        sa.CheckConstraint("role IN ('patient', 'provider')",
                           name=op.f("ck_telemedicine_events_role")),
        sa.CheckConstraint("action IN ('join', 'leave', 'problem')",
                           name=op.f("ck_telemedicine_events_action")),
    )
    op.create_index("ix_telemedicine_events_appointment", "telemedicine_events",
                    ["appointment_id", "at"])
    op.create_table(
        "telemedicine_no_join_settings",
        sa.Column("organization_id", _ID, sa.ForeignKey("organizations.id", ondelete="CASCADE"),
                  primary_key=True),
        sa.Column("no_join_minutes", sa.Integer(), nullable=False),
    )
    op.create_table(
        "telemedicine_no_joins",
        sa.Column("id", _ID, primary_key=True),
        _org(),
        sa.Column("appointment_id", sa.String(64), nullable=False, unique=True),
        sa.Column("provider_id", _ID, nullable=False),
        _instant("start_at"),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("lease_owner", sa.String(64), nullable=True),
        _instant("lease_until", nullable=True),
        _instant("detected_at"),
        sa.Column("backup_provider_id", _ID, nullable=True),
        sa.Column("slots", sa.JSON(), nullable=False),
        _instant("answered_at", nullable=True),
        sa.CheckConstraint("state IN ('claimed', 'offered', 'moved', 'rebooked', 'closed')",
                           name=op.f("ck_telemedicine_no_joins_state")),
    )
    op.create_index("ix_telemedicine_no_joins_work", "telemedicine_no_joins",
                    ["state", "lease_until"])
    _notification_kinds(_KINDS + ", 'nojoin-offer'")


def downgrade() -> None:
    op.execute("DELETE FROM notifications WHERE kind = 'nojoin-offer'")
    _notification_kinds(_KINDS)
    op.drop_table("telemedicine_no_joins")
    op.drop_table("telemedicine_no_join_settings")
    op.drop_table("telemedicine_events")
