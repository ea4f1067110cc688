"""Follow-ups and recalls, and outage incidents: an appointment type's follow-up days
and recall months, the follow-ups a completed visit opens and their outreach log, the
notifications outbox's new ``invitation`` kind (models in
``sync_server/followups/models.py``); an outage incident and its decisions per affected
appointment (``sync_server/outages/models.py``).

Revision ID: 0013_followups_outages
Revises: 0012_waitlist_offers
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013_followups_outages"
down_revision: str | Sequence[str] | None = "0012_waitlist_offers"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.String(36)
_KINDS = ("'created', 'modified', 'cancelled', 'reminder', 'staff-alert', 'waitlist-offer', "
          "'offer-gone', 'no-show'")  # as migration 0012 left them


def _instant(name: str) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, sa.DateTime(timezone=True), nullable=False)


def _org() -> sa.Column:  # type: ignore[type-arg]
    return sa.Column("organization_id", _ID, sa.ForeignKey("organizations.id", ondelete="CASCADE"),
                     nullable=False, index=True)


def _notification_kinds(kinds: str) -> None:
    # notifications is referenced by no foreign key: the SQLite batch copy is safe.
    with op.batch_alter_table("notifications") as batch:
        batch.drop_constraint(op.f("ck_notifications_kind"), type_="check")
        batch.create_check_constraint("kind", f"kind IN ({kinds})")


def upgrade() -> None:
    # Plain ADD COLUMN: a batch copy of a referenced table would cascade-delete on SQLite.
    op.add_column("appointment_types", sa.Column("follow_up_days", sa.Integer(), nullable=True))
    op.add_column("appointment_types", sa.Column("recall_months", sa.Integer(), nullable=True))
    op.create_table(
        "follow_ups",
        sa.Column("id", _ID, primary_key=True),
        _org(),
        sa.Column("clinic_id", _ID, nullable=False),
        sa.Column("patient_id", _ID, nullable=False),
        sa.Column("appointment_type_id", _ID, nullable=False),
        sa.Column("source_appointment_id", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("due_from", sa.Date(), nullable=False),
        sa.Column("due_until", sa.Date(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("satisfied_by", sa.String(64), nullable=True),
        _instant("created_at"),
        _instant("updated_at"),
        sa.CheckConstraint("kind IN ('follow_up', 'recall')", name="kind"),
        sa.CheckConstraint("state IN ('open', 'satisfied', 'void')", name="state"),
        sa.CheckConstraint("due_from <= due_until", name="window"),
    )
    op.create_index("uq_follow_ups_source", "follow_ups", ["source_appointment_id", "kind"],
                    unique=True)
    op.create_index("ix_follow_ups_patient_open", "follow_ups", ["patient_id", "state"])
    op.create_index("ix_follow_ups_org_due", "follow_ups",
                    ["organization_id", "state", "due_from"])
    op.create_table(
        "follow_up_contacts",
        sa.Column("id", _ID, primary_key=True),
        _org(),
        sa.Column("follow_up_id", _ID, sa.ForeignKey("follow_ups.id", ondelete="CASCADE"),
                  nullable=False, index=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("note", sa.String(500), nullable=False),
        sa.Column("by_user_id", _ID, nullable=True),
        sa.Column("notification_id", _ID, nullable=True),
        _instant("at"),
        sa.CheckConstraint("kind IN ('invitation', 'call')", name="kind"),
    )
    _notification_kinds(_KINDS + ", 'invitation'")
    op.create_table(
        "outage_incidents",
        sa.Column("id", _ID, primary_key=True),
        _org(),
        sa.Column("outage_id", _ID, nullable=False),
        sa.Column("resource_id", _ID, nullable=False),
        _instant("start_at"),
        _instant("end_at"),
        sa.Column("reason", sa.String(500), nullable=False),
        sa.Column("created_by", _ID, nullable=True),
        _instant("created_at"),
    )
    op.create_table(
        "outage_decisions",
        sa.Column("id", _ID, primary_key=True),
        _org(),
        sa.Column("incident_id", _ID, sa.ForeignKey("outage_incidents.id", ondelete="CASCADE"),
                  nullable=False, index=True),
        sa.Column("appointment_id", sa.String(64), nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("start_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("provider_id", _ID, nullable=True),
        sa.Column("room_id", _ID, nullable=True),
        sa.Column("by_user_id", _ID, nullable=True),
        _instant("at"),
        sa.CheckConstraint("action IN ('moved', 'unplaced')", name="action"),
    )


def downgrade() -> None:
    op.drop_table("outage_decisions")
    op.drop_table("outage_incidents")
    op.execute("DELETE FROM notifications WHERE kind = 'invitation'")
    _notification_kinds(_KINDS)
    op.drop_table("follow_up_contacts")
    op.drop_index("ix_follow_ups_org_due", "follow_ups")
    op.drop_index("ix_follow_ups_patient_open", "follow_ups")
    op.drop_index("uq_follow_ups_source", "follow_ups")
    op.drop_table("follow_ups")
    op.drop_column("appointment_types", "recall_months")
    op.drop_column("appointment_types", "follow_up_days")
