"""Screenshots of the Administration screens, the two-step sign-in dialog and the patient
record (details; appointments and payments), in English and Spanish, at 1600x1000 and
1280x800, into ``docs/screenshots/``.

Runs a real sync server on a loopback port (SQLite in a temporary folder) with the test
suite's seeded clinic, adds a few records so every list has something to show, and
grabs each dialog offscreen::

    QT_QPA_PLATFORM=offscreen PYTHONPATH=. .venv/bin/python scripts/admin_screenshots.py \
        [--patient-record]

``--patient-record``: only the patient record's two tabs.
"""

from __future__ import annotations

import sys
import tempfile
from datetime import timedelta
from pathlib import Path

import pyotp
from PySide6.QtWidgets import QApplication, QWidget

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from desktop.services import patients  # noqa: E402
from desktop.services.financials import FinancialsService  # noqa: E402
from desktop.ui.admin import kinds  # noqa: E402
from desktop.ui.admin.record_editor import RecordEditorDialog  # noqa: E402
from desktop.ui.patient_record import PatientRecordDialog  # noqa: E402
from desktop.ui.qt_language import follow_desk_language  # noqa: E402
from desktop.ui.text import set_language  # noqa: E402
from desktop.ui.two_step_dialog import TwoStepDialog  # noqa: E402
from tests.desktop.sync.conftest import Desk  # noqa: E402
from tests.desktop.ui.admin_server import LiveAdmin, live_admin  # noqa: E402
from tests.e2e.server_side import PASSWORD  # noqa: E402

OUT = ROOT / "docs" / "screenshots"
SIZES = ((1600, 1000), (1280, 800))
ADMIN = "/api/v1/admin"


def add_examples(live: LiveAdmin) -> None:
    clinic, providers = live.clinic.clinic_id, live.clinic.provider_ids
    live.call("PATCH", f"{ADMIN}/clinics/{clinic}", json={
        "address": "Calle de Alcalá 95\n28009 Madrid", "opening_hours": "L-V 08:00-20:00"})
    live.call("PATCH", f"{ADMIN}/resources/{providers[0]}", json={
        "name": "Dra. Lucía Ortega", "specialty": "Medicina de familia",
        "licence_number": "28-28-41234"})
    live.call("PATCH", f"{ADMIN}/resources/{providers[1]}", json={
        "name": "Dr. Andrés Vidal", "specialty": "Dermatología", "licence_number": "28-28-55120"})
    live.call("POST", f"{ADMIN}/appointment-types", json={
        "name": "Primera visita", "default_duration_seconds": 2700,
        "min_duration_seconds": 1800, "max_duration_seconds": 3600,
        "buffer_after_seconds": 300, "color": "#c2185b", "online_bookable": True})
    first = live.clinic.first_day
    for offset, name in ((30, "Fiesta local"), (60, "Cierre por inventario")):
        live.call("POST", f"{ADMIN}/holidays", json={
            "clinic_id": clinic, "day": (first + timedelta(days=offset)).isoformat(),
            "name": name})
    start = f"{(first + timedelta(days=9)).isoformat()}T08:00:00Z"
    end = f"{(first + timedelta(days=9)).isoformat()}T10:00:00Z"
    live.call("POST", f"{ADMIN}/blockouts", json={
        "clinic_id": clinic, "resource_id": live.clinic.room_ids[0], "start": start,
        "end": end, "reason": "Mantenimiento"})
    live.call("POST", f"{ADMIN}/schedule-exceptions", json={
        "provider_id": providers[1], "clinic_id": clinic, "kind": "time_off",
        "start": start, "end": end, "reason": "Congreso"})
    family, skin = (live.call("POST", f"{ADMIN}/departments", json={
        "clinic_id": clinic, "name": name})["id"]
        for name in ("Medicina de familia", "Dermatología"))
    for provider, department, colour in ((providers[0], family, "#2e7d32"),
                                         (providers[1], skin, "#6a1b9a")):
        live.call("PATCH", f"{ADMIN}/resources/{provider}", json={
            "department_id": department, "color": colour})
    live.call("PATCH", f"{ADMIN}/appointment-types/{live.clinic.type_id}", json={
        "cancellation_period_seconds": 60 * 86_400, "late_cancellation_fee_cents": 2500})
    live.call("POST", f"{ADMIN}/quotas", json={
        "clinic_id": clinic, "period": "day", "max_count": 24, "provider_id": providers[0]})
    live.call("POST", f"{ADMIN}/quotas", json={
        "clinic_id": clinic, "period": "week", "max_count": 80, "department_id": skin})
    live.call("POST", f"{ADMIN}/roles", json={
        "name": "physician", "permissions": ["booking:view_calendar", "schedule:own",
                                             "patient:view"], "mfa_required": True})
    live.call("POST", f"{ADMIN}/roles", json={
        "name": "dermatology desk", "department_scoped": True,
        "permissions": ["booking:view_calendar", "booking:create_appointment"]})
    live.call("POST", f"{ADMIN}/users", json={
        "email": "lucia.ortega@clinica.example", "display_name": "Lucía Ortega",
        "password": PASSWORD, "roles": ["physician"], "department_ids": [family]})


def patient_desk(live: LiveAdmin, folder: Path) -> Desk:
    """An enrolled desk whose first patient has a full record, two appointments with
    charges (one paid in part) and a late cancellation."""
    patient = live.clinic.patient_ids[0]
    live.call("PATCH", f"/api/v1/patients/{patient}", json={
        "date_of_birth": "1984-02-29", "email": "ana.garcia@correo.example",
        "address": "Calle del Prado 12, 3º B\n28014 Madrid", "insurance_provider": "Sanitas",
        "insurance_id": "SAN-0042-7781", "preferred_language": "es"})
    booked = []
    for index in (5, 7):
        provider, start = live.clinic.slot(index)
        answer = live.call("POST", "/api/v1/appointments", json={
            "clinic_id": live.clinic.clinic_id, "patient_id": patient,
            "appointment_type_id": live.clinic.type_id, "provider_id": provider,
            "start": start.isoformat()})
        booked.append(answer["appointments"][0]["id"])
    live.call("PUT", f"/api/v1/appointments/{booked[0]}/financials", json={
        "total_charge": "120.00", "insurance_coverage": "90.00", "copay_amount": "20.00"})
    live.call("POST", f"/api/v1/appointments/{booked[0]}/payment", json={"amount": "20.00"})
    # A late cancellation posts the policy's fee; a supervisor then waives part of it.
    live.call("PATCH", f"{ADMIN}/appointment-types/{live.clinic.type_id}",
              json={"cancellation_period_seconds": 30 * 86_400,
                    "late_cancellation_fee_cents": 2500})
    live.call("POST", f"/api/v1/appointments/{booked[1]}/cancel",
              json={"reason": "No puede venir"})
    live.call("POST", f"/api/v1/appointments/{booked[1]}/waive-fee",
              json={"amount": "10.00", "reason": "Primera vez"})
    desk = Desk(folder / "desk", live.clinic)
    desk.enroll(live, live.clinic.codes[0])  # type: ignore[arg-type]
    desk.client.pull()
    assert desk.ctx.user()  # signed in now: the receptionist enrols two-step sign-in later
    return desk


def grab(widget: QWidget, name: str, language: str) -> None:
    for width, height in SIZES:
        widget.resize(width, height)
        QApplication.processEvents()
        path = OUT / f"{name}-{language}-{width}x{height}.png"
        widget.grab().save(str(path))
        print(path.relative_to(ROOT))


def patient_record(desk: Desk, live: LiveAdmin, language: str) -> None:
    patient = patients.get(desk.ctx, live.clinic.patient_ids[0])
    assert patient is not None
    record = PatientRecordDialog(desk.ctx, patient, FinancialsService(live.call),
                                 "Europe/Madrid", "es_ES")
    record.show()
    grab(record, "patient-record-details", language)
    record.tabs.setCurrentIndex(1)
    record.charge.setText("-5")
    record.save_amounts()
    grab(record, "patient-record-payments", language)
    record.close()


def main() -> int:
    app = QApplication.instance() or QApplication(sys.argv)
    follow_desk_language()  # Qt's own buttons (Close) in the desk's language
    only_record = "--patient-record" in sys.argv[1:]
    with tempfile.TemporaryDirectory() as folder, live_admin(Path(folder)) as live:
        add_examples(live)
        desk = patient_desk(live, Path(folder))
        for language in ("en", "es"):
            set_language(language)
            if only_record:
                patient_record(desk, live, language)
                continue
            lookups = live.lookups()
            for kind in kinds.ALL_KINDS:
                dialog = RecordEditorDialog(kind, live.service, lookups, "Europe/Madrid")
                if dialog.records():
                    dialog.list.setCurrentRow(0)
                dialog.show()
                grab(dialog, f"admin-{kind.key.replace('_', '-')}", language)
                dialog.close()
            holidays = RecordEditorDialog(kinds.HOLIDAYS, live.service, lookups,
                                          "Europe/Madrid")
            holidays.show()
            holidays.start_new()
            holidays.editors[1].widget.setText(live.clinic.first_day.isoformat())  # type: ignore[attr-defined]
            live.call("POST", "/api/v1/appointments", json={
                "clinic_id": live.clinic.clinic_id, "patient_id": live.clinic.patient_ids[0],
                "appointment_type_id": live.clinic.type_id,
                "provider_id": live.clinic.slot(1)[0],
                "start": live.clinic.slot(1)[1].isoformat()}) if language == "en" else None
            holidays.save()
            grab(holidays, "admin-holiday-refused", language)
            holidays.close()
            email = live.clinic.user_email if language == "en" else live.admin_email
            two_step = TwoStepDialog(live.two_step(), email)
            two_step.show()
            two_step.password.setText(PASSWORD)
            two_step.start()
            grab(two_step, "two-step-scan", language)
            two_step.code.setText(pyotp.TOTP(two_step.secret_edit.text()).now())
            two_step.confirm()
            grab(two_step, "two-step-codes", language)
            two_step.close()
            patient_record(desk, live, language)
        desk.close()
    set_language("en")
    del app
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
