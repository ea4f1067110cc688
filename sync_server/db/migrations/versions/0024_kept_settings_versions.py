"""Issue 11 item 6: the configuration counter also counts the writes to the two
per-organization settings a booking reads — ``notification_settings`` (the
notification policy) and ``calendar_feeds`` (which live feeds a booking's change
moves) — so the server keeps them between requests the way it keeps the clinic's
configuration (``sync_server/services/calendar/config_cache.py``, ``kept_setting``).

The same count-up as migration 0004 (its PostgreSQL function
``clinicdesk_count_config_change``, its SQLite trigger forms), with one difference:
on ``calendar_feeds`` an update counts only when it names a column the kept live
feeds are made of (organization, resource, privacy, revocation). Every change of an
appointment moves its feeds' ``version`` (``feeds/versions.py``); counting that
would move the counter with every booking, and the kept configuration and feed
ETags with it. SQLite's "move" trigger (an update changing the organization counts
for the old one too) is kept on both tables: it is already limited to the
organization column.

Revision ID: 0024_kept_settings_versions
Revises: 0023_ids_per_organization
Create Date: 2026-12-04
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0024_kept_settings_versions"
down_revision: str | Sequence[str] | None = "0023_ids_per_organization"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: Table -> the columns whose update counts (``None``: every update counts). Frozen here:
#: ``KEPT_SETTINGS_TABLES`` in ``sync_server/db/models.py`` names the same tables.
KEPT_TABLES: dict[str, tuple[str, ...] | None] = {
    "notification_settings": None,
    "calendar_feeds": ("organization_id", "resource_id", "privacy", "revoked_at"),
}


def _count_up(org: str) -> str:
    return f"""
    INSERT INTO config_versions (organization_id, version) VALUES ({org}, 0)
        ON CONFLICT (organization_id) DO NOTHING;
    UPDATE config_versions SET version = version + 1 WHERE organization_id = {org};
"""


def _update_of(columns: tuple[str, ...] | None) -> str:
    return "UPDATE" if columns is None else f"UPDATE OF {', '.join(columns)}"


#: SQLite: (name suffix, event, row counted) per trigger of a table (migration 0004's).
_SQLITE_TRIGGERS = (
    ("insert", "INSERT", "NEW"),
    ("update", "UPDATE", "NEW"),
    ("move", "UPDATE OF organization_id", "OLD"),
    ("delete", "DELETE", "OLD"),
)
_SQLITE_MOVE_ONLY = "WHEN OLD.organization_id IS NOT NEW.organization_id"


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    for table, columns in KEPT_TABLES.items():
        if dialect == "postgresql":
            # The function of migration 0004 counts OLD and NEW as it does there.
            op.execute(f"CREATE TRIGGER {table}_config_version "
                       f"AFTER INSERT OR {_update_of(columns)} OR DELETE ON {table} "
                       f"FOR EACH ROW EXECUTE FUNCTION clinicdesk_count_config_change()")
        elif dialect == "sqlite":
            for suffix, when, row in _SQLITE_TRIGGERS:
                event = _update_of(columns) if suffix == "update" else when
                only = _SQLITE_MOVE_ONLY if suffix == "move" else ""
                op.execute(f"CREATE TRIGGER {table}_config_version_{suffix} AFTER {event} "
                           f"ON {table} FOR EACH ROW {only} "
                           f"BEGIN {_count_up(f'{row}.organization_id')} END")
        else:  # as in 0004: without the triggers a kept value would never be refreshed
            raise RuntimeError(
                f"ClinicDesk's server supports SQLite and PostgreSQL, not {dialect}.")


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    for table in KEPT_TABLES:
        if dialect == "postgresql":
            op.execute(f"DROP TRIGGER IF EXISTS {table}_config_version ON {table}")
        else:
            for suffix, _when, _row in _SQLITE_TRIGGERS:
                op.execute(f"DROP TRIGGER IF EXISTS {table}_config_version_{suffix}")
