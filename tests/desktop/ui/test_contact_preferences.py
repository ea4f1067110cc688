"""A patient's messages preference: pulled from the server, changed at the desk, sent back."""

from __future__ import annotations

from pathlib import Path

from pytestqt.qtbot import QtBot
from sqlalchemy import select

from desktop.services import patients
from desktop.ui.patient_panel import PatientPanel
from desktop.ui.text import set_language
from sync_server.db import models as db
from tests.desktop.ui.notifications_server import live_notifications


def test_the_preference_is_shown_changed_at_the_desk_and_reaches_the_server(
        qtbot: QtBot, tmp_path: Path) -> None:
    with live_notifications(tmp_path) as live:
        patient_id = live.clinic.patient_ids[0]
        with live.database() as session:  # the server's defaults, mirrored by the pull
            row = session.scalars(select(db.Patient).where(db.Patient.id == patient_id)).one()
            assert (row.contact_preference, row.reminders_opt_out) == ("email_then_sms", False)
        panel = PatientPanel(live.ctx)
        qtbot.addWidget(panel)
        panel.show()
        panel.show_patient(patient_id)
        assert panel.values[4].text() == "E-mail, then SMS if it fails"

        dialog = panel.edit_messages()
        assert dialog is not None
        dialog.preference_combo.setCurrentIndex(dialog.preference_combo.findData("sms"))
        dialog.opt_out.setChecked(True)
        with qtbot.waitSignal(panel.changed):
            assert dialog.save()
        assert panel.values[4].text() == "SMS only · no reminders"
        stored = patients.get(live.ctx, patient_id)
        assert stored is not None and stored.pending
        assert (stored.contact_preference, stored.reminders_opt_out) == ("sms", True)

        live.client.sync_once()
        with live.database() as session:
            row = session.scalars(select(db.Patient).where(db.Patient.id == patient_id)).one()
            assert (row.contact_preference, row.reminders_opt_out) == ("sms", True)
        stored = patients.get(live.ctx, patient_id)
        assert stored is not None and not stored.pending
        set_language("es")
        assert panel.values[4].text() == "Solo SMS · sin recordatorios"
