"""A per-organization counter of configuration changes, kept by triggers.

``config_versions (organization_id, version)`` counts the writes to the tables a
calendar state's configuration is read from (``sync_server/services/calendar/``
``_read_config``): clinics, resources, resource_clinics, appointment_types,
weekly_schedules, quotas. A trigger on every insert, update and delete of those
tables counts it up in the writing transaction, whatever the write path (ORM,
Core, plain SQL), so the server may keep a configuration it read at counter *c*
until it reads another counter: bookings, which move the organization's sync
version many times a second, leave this counter alone.

No row means no change since this migration (counter 0). No foreign key: the
triggers also fire while an organization's rows are deleted by cascade.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CONFIG_TABLES = ("clinics", "resources", "resource_clinics", "appointment_types",
                 "weekly_schedules", "quotas")


def _count_up(org: str) -> str:
    return f"""
    INSERT INTO config_versions (organization_id, version) VALUES ({org}, 0)
        ON CONFLICT (organization_id) DO NOTHING;
    UPDATE config_versions SET version = version + 1 WHERE organization_id = {org};
"""


# Each written row counts once for its organization (an update moving a row to another
# organization, which nothing does, counts for both).
_PG_FUNCTION = f"""
CREATE FUNCTION clinicdesk_count_config_change() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'DELETE' OR (TG_OP = 'UPDATE'
                            AND OLD.organization_id IS DISTINCT FROM NEW.organization_id) THEN
        {_count_up("OLD.organization_id")}
    END IF;
    IF TG_OP <> 'DELETE' THEN
        {_count_up("NEW.organization_id")}
    END IF;
    RETURN NULL;
END
$$ LANGUAGE plpgsql
"""
#: SQLite: (name suffix, event and condition, row counted) per trigger of a table.
_SQLITE_TRIGGERS = (
    ("insert", "AFTER INSERT", "NEW"),
    ("update", "AFTER UPDATE", "NEW"),
    ("move", "AFTER UPDATE OF organization_id", "OLD"),
    ("delete", "AFTER DELETE", "OLD"),
)
_SQLITE_MOVE_ONLY = "WHEN OLD.organization_id IS NOT NEW.organization_id"


def upgrade() -> None:
    op.create_table(
        "config_versions",
        sa.Column("organization_id", sa.String(36), primary_key=True),
        sa.Column("version", sa.BigInteger(), nullable=False),
    )
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        op.execute(_PG_FUNCTION)
        for table in CONFIG_TABLES:
            op.execute(f"CREATE TRIGGER {table}_config_version "
                       f"AFTER INSERT OR UPDATE OR DELETE ON {table} FOR EACH ROW "
                       f"EXECUTE FUNCTION clinicdesk_count_config_change()")
    elif dialect == "sqlite":
        for table in CONFIG_TABLES:
            for suffix, when, row in _SQLITE_TRIGGERS:
                only = _SQLITE_MOVE_ONLY if suffix == "move" else ""
                op.execute(f"CREATE TRIGGER {table}_config_version_{suffix} {when} ON {table} "
                           f"FOR EACH ROW {only} BEGIN {_count_up(f'{row}.organization_id')} END")
    else:  # the server runs on these two only; without the triggers a kept
        # configuration would never be refreshed, so refuse rather than go on silently
        raise RuntimeError(f"ClinicDesk's server supports SQLite and PostgreSQL, not {dialect}.")


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    for table in CONFIG_TABLES:
        if dialect == "postgresql":
            op.execute(f"DROP TRIGGER IF EXISTS {table}_config_version ON {table}")
        else:
            for suffix, _when, _row in _SQLITE_TRIGGERS:
                op.execute(f"DROP TRIGGER IF EXISTS {table}_config_version_{suffix}")
    if dialect == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS clinicdesk_count_config_change()")
    op.drop_table("config_versions")
