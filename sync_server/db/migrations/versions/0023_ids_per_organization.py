"""Issue 12 item 7: record ids are unique per organization, not across all of them.

The records a desk (or a client) creates with ids of its own — patients, series,
appointments, blockouts, waitlist entries — are keyed by ``(id, organization_id)``, and so
are the rows keyed by one of those ids (``busy_blocks``, ``video_rooms``). Every foreign key
to them names both columns, and the unique keys that name an appointment id (occupations,
financial records, no-show records, no-join cases, notifications, follow-ups) include the
organization. Another organization's id is then answered like a fresh one.

The key starts with the id, so a lookup by id alone still finds it through the index.

PostgreSQL alters the tables in place. SQLite cannot change a primary key in place: the
tables are rebuilt from their new definition with foreign keys off (dropping a referenced
table with them on would cascade-delete its children), and ``PRAGMA foreign_key_check``
must find nothing wrong before the rebuild is committed.

Revision ID: 0023_ids_per_organization
Revises: 0022_fee_waivers
Create Date: 2026-12-03
"""

import warnings
from collections.abc import Sequence

from alembic import op

revision: str = "0023_ids_per_organization"
down_revision: str | Sequence[str] | None = "0022_fee_waivers"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: Table -> the column of its new primary key besides ``organization_id``.
KEYED = {"patients": "id", "series": "id", "appointments": "id", "blockouts": "id",
         "waitlist_entries": "id", "busy_blocks": "blockout_id",
         "video_rooms": "appointment_id"}
#: (table, column, referred table, ON DELETE): the foreign keys that become composite.
REFERENCES = (
    ("series", "patient_id", "patients", None),
    ("appointments", "patient_id", "patients", None),
    ("appointments", "series_id", "series", None),
    ("waitlist_entries", "patient_id", "patients", None),
    ("appointment_resources", "appointment_id", "appointments", "CASCADE"),
    ("appointment_financials", "appointment_id", "appointments", "CASCADE"),
    ("fee_waivers", "appointment_id", "appointments", "CASCADE"),
    ("busy_blocks", "blockout_id", "blockouts", "CASCADE"),
)
#: (table, old unique constraint, new one, its columns).
UNIQUES = (
    ("appointment_resources", "uq_appointment_resources_appointment_id_resource_id",
     "uq_appointment_resources_appointment_resource_org",
     ["appointment_id", "resource_id", "organization_id"]),
    ("appointment_financials", "uq_appointment_financials_appointment_id",
     "uq_appointment_financials_appointment_org", ["appointment_id", "organization_id"]),
    ("patient_no_shows", "uq_patient_no_shows_appointment_id",
     "uq_patient_no_shows_appointment_org", ["appointment_id", "organization_id"]),
    ("telemedicine_no_joins", "uq_telemedicine_no_joins_appointment_id",
     "uq_telemedicine_no_joins_appointment_org", ["appointment_id", "organization_id"]),
)
#: (table, unique index, its old columns): the organization is appended.
UNIQUE_INDEXES = (
    ("notifications", "uq_notifications_key",
     ["appointment_id", "occurrence_start", "kind", "offset_minutes", "recipient", "channel"]),
    ("follow_ups", "uq_follow_ups_source", ["source_appointment_id", "kind"]),
)
#: Parents before children: a rebuilt table's foreign keys name tables already rebuilt.
REBUILT = ("patients", "series", "appointments", "blockouts", "waitlist_entries",
           "appointment_resources", "appointment_financials", "fee_waivers", "busy_blocks",
           "video_rooms", "patient_no_shows", "telemedicine_no_joins")
#: An index a SQLite rebuild cannot carry over (an expression; migration 0003).
BLOCK_LENGTH_INDEX = ("CREATE INDEX ix_appointments_org_block_length ON appointments "
                      "(organization_id, (julianday(block_end) - julianday(block_start)))")


def _fk_name(table: str, column: str, referred: str) -> str:
    return f"fk_{table}_{column}_{referred}"


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        _sqlite(upgrade=True)
        return
    for table, column, referred, _ in REFERENCES:
        op.drop_constraint(_fk_name(table, column, referred), table, type_="foreignkey")
    for table, column in KEYED.items():
        op.execute(f"ALTER TABLE {table} DROP CONSTRAINT pk_{table}, "
                   f"ADD CONSTRAINT pk_{table} PRIMARY KEY ({column}, organization_id)")
    for table, old, new, columns in UNIQUES:
        op.drop_constraint(old, table, type_="unique")
        op.create_unique_constraint(new, table, columns)
    for table, name, columns in UNIQUE_INDEXES:
        op.drop_index(name, table_name=table)
        op.create_index(name, table, [*columns, "organization_id"], unique=True)
    for table, column, referred, ondelete in REFERENCES:
        op.create_foreign_key(_fk_name(table, column, referred), table, referred,
                              [column, "organization_id"], ["id", "organization_id"],
                              ondelete=ondelete)


def downgrade() -> None:
    """Back to one key across organizations (fails if two organizations share an id)."""
    if op.get_bind().dialect.name == "sqlite":
        _sqlite(upgrade=False)
        return
    for table, column, referred, _ in REFERENCES:
        op.drop_constraint(_fk_name(table, column, referred), table, type_="foreignkey")
    for table, name, columns in UNIQUE_INDEXES:
        op.drop_index(name, table_name=table)
        op.create_index(name, table, columns, unique=True)
    for table, old, new, columns in UNIQUES:
        op.drop_constraint(new, table, type_="unique")
        op.create_unique_constraint(old, table, columns[:-1])
    for table, column in KEYED.items():
        op.execute(f"ALTER TABLE {table} DROP CONSTRAINT pk_{table}, "
                   f"ADD CONSTRAINT pk_{table} PRIMARY KEY ({column})")
    for table, column, referred, ondelete in REFERENCES:
        op.create_foreign_key(_fk_name(table, column, referred), table, referred,
                              [column], ["id"], ondelete=ondelete)


def _sqlite(*, upgrade: bool) -> None:
    """Rebuild the tables with foreign keys off, in a transaction of its own (the pragma
    is a no-op inside one), and commit only when ``foreign_key_check`` finds nothing."""
    bind = op.get_bind()
    bind.exec_driver_sql("COMMIT")  # what ran before (earlier revisions) is kept
    bind.exec_driver_sql("PRAGMA foreign_keys = OFF")
    bind.exec_driver_sql("BEGIN IMMEDIATE")
    try:
        for table in REBUILT:
            _rebuild(table, upgrade=upgrade)
        bind.exec_driver_sql("DROP INDEX IF EXISTS ix_appointments_org_block_length")
        bind.exec_driver_sql(BLOCK_LENGTH_INDEX)
        for table, name, columns in UNIQUE_INDEXES:
            op.drop_index(name, table_name=table)
            op.create_index(name, table, [*columns, "organization_id"] if upgrade else columns,
                            unique=True)
        problems = bind.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
        if problems:
            raise RuntimeError(f"foreign key check failed after the rebuild: {problems[:5]}")
    except BaseException:
        bind.exec_driver_sql("ROLLBACK")
        bind.exec_driver_sql("PRAGMA foreign_keys = ON")
        bind.exec_driver_sql("BEGIN IMMEDIATE")
        raise
    bind.exec_driver_sql("COMMIT")
    bind.exec_driver_sql("PRAGMA foreign_keys = ON")
    bind.exec_driver_sql("BEGIN IMMEDIATE")  # for Alembic's version row


def _rebuild(table: str, *, upgrade: bool) -> None:
    with warnings.catch_warnings():  # the expression index is made again afterwards
        warnings.filterwarnings("ignore", "Skipped unsupported reflection of expression")
        _batch(table, upgrade=upgrade)


def _batch(table: str, *, upgrade: bool) -> None:
    with op.batch_alter_table(table, recreate="always") as batch:
        if table in KEYED:
            batch.drop_constraint(f"pk_{table}", type_="primary")
            batch.create_primary_key(
                f"pk_{table}", [KEYED[table], "organization_id"] if upgrade else [KEYED[table]])
        for name, old, new, columns in UNIQUES:
            if name == table:
                batch.drop_constraint(old if upgrade else new, type_="unique")
                batch.create_unique_constraint(new if upgrade else old,
                                               columns if upgrade else columns[:-1])
        for name, column, referred, ondelete in REFERENCES:
            if name == table:
                fk = _fk_name(table, column, referred)
                batch.drop_constraint(fk, type_="foreignkey")
                batch.create_foreign_key(
                    fk, referred, [column, "organization_id"] if upgrade else [column],
                    ["id", "organization_id"] if upgrade else ["id"], ondelete=ondelete)

