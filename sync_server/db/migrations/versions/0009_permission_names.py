"""Seed 003's permission names, and ``schedule:own``.

``booking:create`` / ``booking:modify`` / ``booking:cancel`` become
``booking:create_appointment`` / ``booking:modify_appointment`` /
``booking:cancel_appointment``; every role holding an old name holds the new one
afterwards. ``schedule:own`` (a provider manages their own weekly schedule and time
off) is added to the catalogue and granted to the roles named ``provider``.

Revision ID: 0009_permission_names
Revises: 0006
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009_permission_names"
down_revision: str | Sequence[str] | None = "0007_notifications"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

RENAMED = {
    "booking:create": ("booking:create_appointment", "Book appointments"),
    "booking:modify": ("booking:modify_appointment", "Move, resize and edit appointments"),
    "booking:cancel": ("booking:cancel_appointment", "Cancel appointments"),
}
OWN_SCHEDULE = ("schedule:own", "Manage one's own weekly schedule and time off")

permissions = sa.table("permissions", sa.column("code", sa.String), sa.column("description",
                                                                             sa.String))
role_permissions = sa.table("role_permissions", sa.column("role_id", sa.String),
                            sa.column("permission", sa.String),
                            sa.column("organization_id", sa.String))


def _rename(pairs: dict[str, tuple[str, str]]) -> None:
    op.bulk_insert(permissions, [{"code": new, "description": d} for new, d in pairs.values()])
    for old, (new, _description) in pairs.items():
        op.execute(role_permissions.update().where(role_permissions.c.permission == old)
                   .values(permission=new))
        op.execute(permissions.delete().where(permissions.c.code == old))


def upgrade() -> None:
    _rename(RENAMED)
    op.bulk_insert(permissions, [{"code": OWN_SCHEDULE[0], "description": OWN_SCHEDULE[1]}])
    op.execute(
        "INSERT INTO role_permissions (role_id, permission, organization_id) "
        f"SELECT id, '{OWN_SCHEDULE[0]}', organization_id FROM roles WHERE name = 'provider'"
    )


def downgrade() -> None:
    op.execute(role_permissions.delete().where(role_permissions.c.permission == OWN_SCHEDULE[0]))
    op.execute(permissions.delete().where(permissions.c.code == OWN_SCHEDULE[0]))
    descriptions = {old: d for old, (_new, d) in RENAMED.items()}
    _rename({new: (old, descriptions[old]) for old, (new, _d) in RENAMED.items()})
