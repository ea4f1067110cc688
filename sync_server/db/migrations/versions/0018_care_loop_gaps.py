"""Care-loop gaps (issue 14): the notifications outbox's new ``rerouted`` kind, the one
message a patient gets about all their appointments an outage incident moved (models
in ``sync_server/notifications/models.py``).

Revision ID: 0018_care_loop_gaps
Revises: 0017_visits_templates
Create Date: 2026-12-03
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0018_care_loop_gaps"
down_revision: str | Sequence[str] | None = "0017_visits_templates"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_KINDS = ("'created', 'modified', 'cancelled', 'reminder', 'staff-alert', 'waitlist-offer', "
          "'offer-gone', 'no-show', 'invitation'")  # as migration 0013 left them


def _notification_kinds(kinds: str) -> None:
    # notifications is referenced by no foreign key: the SQLite batch copy is safe.
    with op.batch_alter_table("notifications") as batch:
        batch.drop_constraint(op.f("ck_notifications_kind"), type_="check")
        batch.create_check_constraint("kind", f"kind IN ({kinds})")


def upgrade() -> None:
    _notification_kinds(_KINDS + ", 'rerouted'")


def downgrade() -> None:
    op.execute("DELETE FROM notifications WHERE kind = 'rerouted'")
    _notification_kinds(_KINDS)
