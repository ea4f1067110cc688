"""Calendar feeds: tokenized provider/room feeds, their fetch audit, the organization's
feed policy, and external busy calendars whose busy times become blockouts
(models in ``sync_server/feeds/models.py``).

Revision ID: 0005_calendar_feeds
Revises: 0004
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005_calendar_feeds"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.String(36)
_BIGINT = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _instant(name: str, nullable: bool = False) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _org() -> sa.Column:  # type: ignore[type-arg]
    return sa.Column("organization_id", _ID, sa.ForeignKey("organizations.id", ondelete="CASCADE"),
                     nullable=False, index=True)


def upgrade() -> None:
    op.create_table(
        "calendar_feeds",
        sa.Column("id", _ID, primary_key=True),
        _org(),
        sa.Column("resource_id", _ID, sa.ForeignKey("resources.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("label", sa.String(200), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("privacy", sa.String(16), nullable=False),
        sa.Column("language", sa.String(8), nullable=False),
        _instant("created_at"),
        sa.Column("created_by_user_id", _ID, nullable=True),
        _instant("expires_at", True),
        _instant("revoked_at", True),
        sa.Column("version", _BIGINT, nullable=False),
        _instant("changed_at"),
        _instant("last_fetched_at", True),
        sa.CheckConstraint("privacy IN ('busy', 'initials', 'full')", name="privacy"),
    )
    op.create_index("ix_calendar_feeds_org_resource", "calendar_feeds",
                    ["organization_id", "resource_id"])
    op.create_table(
        "calendar_feed_fetches",
        sa.Column("id", _BIGINT, primary_key=True, autoincrement=True),
        _org(),
        sa.Column("feed_id", _ID, sa.ForeignKey("calendar_feeds.id", ondelete="CASCADE"),
                  nullable=False),
        _instant("at"),
        sa.Column("client_address", sa.String(64), nullable=False),
        sa.Column("method", sa.String(8), nullable=False),
        sa.Column("status", sa.Integer(), nullable=False),
    )
    op.create_index("ix_calendar_feed_fetches_feed_at", "calendar_feed_fetches",
                    ["feed_id", "at"])
    op.create_table(
        "calendar_feed_policies",
        sa.Column("organization_id", _ID, sa.ForeignKey("organizations.id", ondelete="CASCADE"),
                  primary_key=True),
        sa.Column("allow_full", sa.Boolean(), nullable=False),
        sa.Column("past_days", sa.Integer(), nullable=False),
        sa.Column("ahead_days", sa.Integer(), nullable=False),
        sa.Column("cancelled_visible_days", sa.Integer(), nullable=False),
        sa.Column("refresh_minutes", sa.Integer(), nullable=False),
    )
    op.create_table(
        "busy_calendars",
        sa.Column("id", _ID, primary_key=True),
        _org(),
        sa.Column("provider_id", _ID, sa.ForeignKey("resources.id", ondelete="CASCADE"),
                  nullable=False, index=True),
        sa.Column("clinic_id", _ID, sa.ForeignKey("clinics.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("url", sa.String(2000), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        _instant("created_at"),
        _instant("last_attempt_at", True),
        _instant("last_success_at", True),
        sa.Column("last_error", sa.String(500), nullable=False),
        sa.Column("busy_count", sa.Integer(), nullable=False),
    )
    op.create_table(
        "busy_blocks",
        sa.Column("blockout_id", _ID, sa.ForeignKey("blockouts.id", ondelete="CASCADE"),
                  primary_key=True),
        sa.Column("busy_calendar_id", _ID,
                  sa.ForeignKey("busy_calendars.id", ondelete="CASCADE"), nullable=False,
                  index=True),
        _org(),
        _instant("start_at"),
        _instant("end_at"),
    )


def downgrade() -> None:
    op.drop_table("busy_blocks")
    op.drop_table("busy_calendars")
    op.drop_table("calendar_feed_policies")
    op.drop_index("ix_calendar_feed_fetches_feed_at", "calendar_feed_fetches")
    op.drop_table("calendar_feed_fetches")
    op.drop_index("ix_calendar_feeds_org_resource", "calendar_feeds")
    op.drop_table("calendar_feeds")
