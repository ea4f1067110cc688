"""Waitlist offers of freed slots, no-shows recorded per patient, the organization's
care settings, and the notification kinds ``waitlist-offer``, ``offer-gone`` and
``no-show``.

Revision ID: 0012_waitlist_offers
Revises: 0011_portal
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012_waitlist_offers"
down_revision: str | Sequence[str] | None = "0011_portal"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.String(36)
_OLD_KINDS = "kind IN ('created', 'modified', 'cancelled', 'reminder', 'staff-alert')"
_NEW_KINDS = ("kind IN ('created', 'modified', 'cancelled', 'reminder', 'staff-alert', "
              "'waitlist-offer', 'offer-gone', 'no-show')")


def _instant(name: str, nullable: bool = False) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _org() -> sa.Column:  # type: ignore[type-arg]
    return sa.Column("organization_id", _ID, sa.ForeignKey("organizations.id", ondelete="CASCADE"),
                     nullable=False, index=True)


def _kinds(check: str) -> None:
    # notifications is referenced by no foreign key: a batch copy on SQLite is safe.
    with op.batch_alter_table("notifications", recreate="always") as batch:
        batch.drop_constraint(op.f("ck_notifications_kind"), type_="check")
        batch.create_check_constraint("kind", sa.text(check))


def upgrade() -> None:
    op.create_table(
        "freed_slots",
        sa.Column("id", _ID, primary_key=True),
        _org(),
        sa.Column("clinic_id", _ID, nullable=False),
        sa.Column("provider_id", _ID, nullable=False),
        sa.Column("room_id", _ID, nullable=True),
        _instant("start_at"),
        _instant("end_at"),
        sa.Column("source_appointment_id", sa.String(64), nullable=True),
        sa.Column("reason", sa.String(16), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        _instant("next_check_at"),
        sa.Column("booked_appointment_id", sa.String(64), nullable=True),
        _instant("created_at"),
        _instant("updated_at"),
        sa.CheckConstraint("state IN ('pending', 'offering', 'taken', 'exhausted')",
                           name="state"),
    )
    op.create_index("ix_freed_slots_work", "freed_slots", ["state", "next_check_at"])
    op.create_table(
        "waitlist_offers",
        sa.Column("id", _ID, primary_key=True),
        _org(),
        sa.Column("slot_id", _ID, sa.ForeignKey("freed_slots.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("entry_id", _ID, nullable=False),
        sa.Column("patient_id", _ID, nullable=False),
        sa.Column("rank", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("offered_by", sa.String(40), nullable=False),
        _instant("offered_at"),
        _instant("expires_at"),
        _instant("answered_at", True),
        sa.Column("appointment_id", sa.String(64), nullable=True),
        sa.CheckConstraint("state IN ('open', 'accepted', 'expired', 'gone', 'withdrawn')",
                           name="state"),
    )
    op.create_index("uq_waitlist_offers_slot_entry", "waitlist_offers", ["slot_id", "entry_id"],
                    unique=True)
    op.create_index("ix_waitlist_offers_org_state", "waitlist_offers",
                    ["organization_id", "state"])
    op.create_table(
        "patient_no_shows",
        sa.Column("id", _ID, primary_key=True),
        _org(),
        sa.Column("patient_id", _ID, nullable=False, index=True),
        sa.Column("appointment_id", sa.String(64), nullable=False, unique=True),
        _instant("missed_at"),
        _instant("recorded_at"),
    )
    op.create_table(
        "care_settings",
        sa.Column("organization_id", _ID, sa.ForeignKey("organizations.id", ondelete="CASCADE"),
                  primary_key=True),
        sa.Column("offer_hold_minutes", sa.Integer(), nullable=False),
        sa.Column("offers_at_once", sa.Integer(), nullable=False),
        sa.Column("offers_enabled", sa.Boolean(), nullable=False),
        sa.Column("no_show_limit", sa.Integer(), nullable=False),
        sa.Column("no_show_months", sa.Integer(), nullable=False),
        sa.Column("no_show_message", sa.Boolean(), nullable=False),
    )
    _kinds(_NEW_KINDS)


def downgrade() -> None:
    op.execute("DELETE FROM notifications WHERE kind IN ('waitlist-offer', 'offer-gone', "
               "'no-show')")
    _kinds(_OLD_KINDS)
    for table in ("care_settings", "patient_no_shows", "waitlist_offers", "freed_slots"):
        op.drop_table(table)
