"""Creating a patient who is already registered asks first (no silent second Susan Smith)."""

from __future__ import annotations

from pytestqt.qtbot import QtBot
from sqlalchemy import func, select

from desktop.services import patients
from desktop.services.context import DeskContext
from desktop.services.patient_duplicates import likely_duplicates
from desktop.store.models import PatientRow
from desktop.ui.patient_picker import PatientPicker
from tests.desktop.services.conftest import BEN, TZ


def _count(ctx: DeskContext) -> int:
    with ctx.store.session() as session:
        return int(session.scalar(select(func.count()).select_from(PatientRow)) or 0)


def _picker(qtbot: QtBot, ctx: DeskContext) -> PatientPicker:
    picker = PatientPicker(ctx, TZ, "es_ES")
    qtbot.addWidget(picker)
    picker.show()
    picker.new_button.setChecked(True)
    return picker


def test_the_same_name_and_phone_is_shown_instead_of_creating_a_second_patient(
    qtbot: QtBot, ctx: DeskContext
) -> None:
    picker = _picker(qtbot, ctx)
    before = _count(ctx)
    picker.given.setText("ben")
    picker.family.setText("SMITH")
    picker.phone.setText("+44 7700 900 123")

    picker.create_button.click()

    assert _count(ctx) == before
    assert picker.duplicate_box.isVisible()
    assert "Ben Smith" in picker.duplicate_text.text()
    picker.use_existing_button.click()
    assert picker.patient is not None and picker.patient.id == BEN
    assert _count(ctx) == before


def test_a_different_person_can_still_be_created_after_the_warning(
    qtbot: QtBot, ctx: DeskContext
) -> None:
    picker = _picker(qtbot, ctx)
    before = _count(ctx)
    picker.given.setText("Ben")
    picker.family.setText("Smith")
    picker.create_button.click()
    assert picker.duplicate_box.isVisible()

    picker.create_anyway_button.click()

    assert _count(ctx) == before + 1
    assert not picker.duplicate_box.isVisible()


def test_a_family_sharing_a_phone_is_not_a_duplicate(ctx: DeskContext) -> None:
    assert likely_duplicates(ctx, "Lucy", "Smith", "+44 7700 900123") == ()
    assert [p.id for p in likely_duplicates(ctx, "Bén", "Smíth", "")] == [BEN]
    assert patients.get(ctx, BEN) is not None
