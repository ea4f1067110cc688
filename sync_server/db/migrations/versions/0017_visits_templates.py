"""Issue 19 item 6: visits, slot templates, cancellation categories and EHR encounter
references on appointments, the ``slot_templates`` table and the ``ehr:encounter``
permission.

Revision ID: 0017_visits_templates
Revises: 0016_departments_financials
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017_visits_templates"
down_revision: str | Sequence[str] | None = "0016_departments_financials"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.String(36)
_COLUMNS = (("cancel_category", sa.String(40)), ("visit_id", _ID),
            ("slot_template_id", _ID), ("encounter_ref", sa.String(200)))

ENCOUNTER = ("ehr:encounter", "Set appointments' EHR encounter references")
permissions = sa.table("permissions", sa.column("code", sa.String),
                       sa.column("description", sa.String))

# Plain ADD COLUMN: a batch copy of a referenced table would cascade-delete on SQLite.


def upgrade() -> None:
    op.create_table(
        "slot_templates",
        sa.Column("id", _ID, nullable=False),
        sa.Column("organization_id", _ID, nullable=False),
        sa.Column("provider_id", _ID, nullable=False),
        sa.Column("clinic_id", _ID, nullable=False),
        sa.Column("weekday", sa.Integer(), nullable=False),
        sa.Column("start_time", sa.Time(), nullable=False),
        sa.Column("end_time", sa.Time(), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("appointment_type_id", _ID, nullable=True),
        sa.CheckConstraint("weekday BETWEEN 0 AND 6", name=op.f("ck_slot_templates_weekday")),
        sa.CheckConstraint("end_time > start_time", name=op.f("ck_slot_templates_range")),
        sa.ForeignKeyConstraint(["clinic_id"], ["clinics.id"],
                                name=op.f("fk_slot_templates_clinic_id_clinics")),
        sa.ForeignKeyConstraint(["organization_id"], ["organizations.id"],
                                name=op.f("fk_slot_templates_organization_id_organizations"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["provider_id"], ["resources.id"],
                                name=op.f("fk_slot_templates_provider_id_resources")),
        sa.ForeignKeyConstraint(
            ["appointment_type_id"], ["appointment_types.id"],
            name=op.f("fk_slot_templates_appointment_type_id_appointment_types")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_slot_templates")),
    )
    op.create_index(op.f("ix_slot_templates_organization_id"), "slot_templates",
                    ["organization_id"])
    op.create_index(op.f("ix_slot_templates_provider_id"), "slot_templates", ["provider_id"])
    for name, kind in _COLUMNS:
        op.add_column("appointments", sa.Column(name, kind, nullable=True))
    op.create_index(op.f("ix_appointments_visit_id"), "appointments", ["visit_id"])
    op.bulk_insert(permissions, [{"code": ENCOUNTER[0], "description": ENCOUNTER[1]}])


def downgrade() -> None:
    op.execute(sa.text("DELETE FROM role_permissions WHERE permission = 'ehr:encounter'"))
    op.execute(permissions.delete().where(permissions.c.code == ENCOUNTER[0]))
    op.drop_index(op.f("ix_appointments_visit_id"), table_name="appointments")
    for name, _kind in reversed(_COLUMNS):
        op.drop_column("appointments", name)
    op.drop_index(op.f("ix_slot_templates_provider_id"), table_name="slot_templates")
    op.drop_index(op.f("ix_slot_templates_organization_id"), table_name="slot_templates")
    op.drop_table("slot_templates")
