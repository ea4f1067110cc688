"""indexes that keep the desk fast with years of history; the patient name index

* ``ix_appointments_organization_id_start``: the calendar state's window is read as
  ``organization = ? AND start`` bounded on both sides (see
  :mod:`desktop.services.calendar`), so it no longer walks every older appointment.
* ``patients.folded_name`` / ``patients.phone_digits`` and ``patient_name_keys``:
  the folded words of every patient's names, indexed for prefix search (see
  :mod:`desktop.store.patient_names`); filled here for the patients already stored.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-03 04:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from desktop.store.patient_names import digits, name_words, sort_key

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("appointments", schema=None) as batch_op:
        batch_op.create_index("ix_appointments_organization_id_start",
                              ["organization_id", "start"], unique=False)
    with op.batch_alter_table("patients", schema=None) as batch_op:
        batch_op.add_column(sa.Column("folded_name", sa.String(), nullable=False,
                                      server_default=""))
        batch_op.add_column(sa.Column("phone_digits", sa.String(length=32), nullable=False,
                                      server_default=""))
        batch_op.create_index("ix_patients_folded_name_id", ["folded_name", "id"],
                              unique=False)
    op.create_table(
        "patient_name_keys",
        sa.Column("word", sa.String(length=64), nullable=False),
        sa.Column("patient_id", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("word", "patient_id", name=op.f("pk_patient_name_keys")),
    )
    with op.batch_alter_table("patient_name_keys", schema=None) as batch_op:
        batch_op.create_index("ix_patient_name_keys_patient_id_word", ["patient_id", "word"],
                              unique=False)
    _fill_patient_names()


def _fill_patient_names() -> None:
    bind = op.get_bind()
    patients = bind.execute(sa.text(
        "SELECT id, given_name, family_name, phone FROM patients")).all()
    if not patients:
        return
    bind.execute(
        sa.text("UPDATE patients SET folded_name = :folded, phone_digits = :digits "
                "WHERE id = :id"),
        [{"id": p.id, "folded": sort_key(p.given_name, p.family_name),
          "digits": digits(p.phone)} for p in patients])
    rows = [{"word": word, "patient_id": p.id}
            for p in patients for word in name_words(p.given_name, p.family_name)]
    if rows:
        bind.execute(sa.text("INSERT INTO patient_name_keys (word, patient_id) "
                             "VALUES (:word, :patient_id)"), rows)


def downgrade() -> None:
    op.drop_table("patient_name_keys")
    with op.batch_alter_table("patients", schema=None) as batch_op:
        batch_op.drop_index("ix_patients_folded_name_id")
        batch_op.drop_column("phone_digits")
        batch_op.drop_column("folded_name")
    with op.batch_alter_table("appointments", schema=None) as batch_op:
        batch_op.drop_index("ix_appointments_organization_id_start")
