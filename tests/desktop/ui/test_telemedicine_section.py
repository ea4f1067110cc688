"""The "Video visit" section of the details panel against a real sync server and a real
desk: the link (open, copy), the consent state and the patient's documents (open, save),
read off the UI thread; hidden for ordinary visits; EN and ES fit at two window sizes."""

from __future__ import annotations

import itertools
import os
import stat
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from PySide6.QtCore import QUrl
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from desktop.services.admin import AdminService
from desktop.services.server_call import signed_in_call
from desktop.services.telemedicine import TelemedicineService
from desktop.ui.admin.consent_forms import CONSENT_FORMS
from desktop.ui.admin.kinds import lookup_lists
from desktop.ui.admin.record_editor import RecordEditorDialog
from desktop.ui.details_panel import DetailsPanel
from desktop.ui.qt_language import follow_desk_language
from desktop.ui.text import set_language
from scheduling import model
from scheduling.wire import to_wire
from sync_server.db import models as db
from sync_server.services import changes
from sync_server.telemedicine import consent, documents
from sync_server.telemedicine.models import TelemedicineSettings
from tests.desktop.ui.notifications_server import LiveNotifications, live_notifications
from tests.desktop.ui.test_texts_fit import clipped
from tests.e2e.server_side import SLOT, TZ
from tests.support.records import by_id
from tests.sync_server.conftest import make_settings
from tests.sync_server.telemedicine_setup import pdf

FIT_SLOTS = itertools.count(10)
SCREENSHOTS = Path(os.environ.get("CLINICDESK_SCREENSHOTS", "/tmp/clinicdesk-screens"))


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveNotifications]:
    folder = tmp_path_factory.mktemp("telemedicine-desk")
    with live_notifications(folder) as running:
        clinic = running.clinic
        with running.database() as session:
            row = session.get(db.AppointmentType, clinic.type_id)
            assert row is not None
            row.telemedicine = True
            kind = model.AppointmentType(
                row.id, clinic.org_id, row.name, SLOT, timedelta(minutes=15),
                timedelta(hours=1), requirement=model.ResourceRequirement(
                    rooms=frozenset(clinic.room_ids)), telemedicine=True)
            version = changes.bump_version(session, clinic.org_id)
            changes.record_change(session, clinic.org_id, version, "appointment_type",
                                  row.id, "upsert", to_wire(kind))
            session.add(TelemedicineSettings(organization_id=clinic.org_id,
                                             url_template="https://meet.example/{room}",
                                             updated_at=datetime.now(UTC)))
            consent.save_form(session, clinic.org_id, row.id, "I agree.", "Acepto.", None,
                              datetime.now(UTC))
            session.commit()
        running.client.sync_once()
        running.folder = folder  # type: ignore[attr-defined]
        yield running


def sealer(live: LiveNotifications) -> documents.Sealer:
    folder: Path = live.folder  # type: ignore[attr-defined]
    settings = make_settings(f"sqlite:///{folder / 'server.db'}", folder)
    return documents.Sealer(settings.document_key_bytes())


def visit_with_consent_and_document(live: LiveNotifications, slot: int) -> str:
    appointment_id = live.book(slot)
    with live.database() as session:
        row = by_id(session, db.Appointment, appointment_id)
        assert row is not None
        form = consent.current_form(session, row.organization_id, row.appointment_type_id)
        assert form is not None
        consent.accept(session, row, form.id, "portal", "en", datetime.now(UTC))
        documents.store(session, sealer(live), row.organization_id, row.id,
                        "Blood results.pdf", pdf(3000), datetime.now(UTC))
        session.commit()
    return appointment_id


def panel_for(qtbot: QtBot, live: LiveNotifications, width: int = 420,
              height: int = 900) -> DetailsPanel:
    panel = DetailsPanel(live.ctx)
    qtbot.addWidget(panel)
    panel.resize(width, height)
    panel.show()
    panel.telemedicine.set_service(TelemedicineService(signed_in_call(live.client,
                                                                      live.ctx.sessions)))
    return panel


def shown(qtbot: QtBot, panel: DetailsPanel, appointment_id: str) -> None:
    section = panel.telemedicine
    with qtbot.waitSignal(section.loaded, timeout=10_000):
        panel.show_appointment(appointment_id)
        assert section.visit is None  # the answer comes later, through the event loop


def test_the_section_shows_the_link_consent_and_documents_read_off_the_ui_thread(
        qtbot: QtBot, live: LiveNotifications) -> None:
    appointment_id = visit_with_consent_and_document(live, 0)
    panel = panel_for(qtbot, live)
    shown(qtbot, panel, appointment_id)
    section = panel.telemedicine
    assert section.isVisible() and section.visit is not None
    assert section.link.text().startswith("https://meet.example/")
    assert "Consent: accepted (version 1)" in section.consent.text()
    assert section.documents.count() == 1
    assert section.documents.item(0).text().startswith("Blood results.pdf (3 KB), ")
    opened: list[QUrl] = []
    section.open_url = opened.append  # type: ignore[assignment]
    section.open_link()
    section.copy_link()
    assert [url.toString() for url in opened] == [section.link.text()]
    assert QGuiApplication.clipboard().text() == section.link.text()


def test_a_document_is_saved_and_opened_from_a_private_folder(
        qtbot: QtBot, live: LiveNotifications, tmp_path: Path) -> None:
    appointment_id = visit_with_consent_and_document(live, 1)
    panel = panel_for(qtbot, live)
    shown(qtbot, panel, appointment_id)
    section = panel.telemedicine
    section.documents.setCurrentRow(0)
    assert section.save_document_button.isEnabled()
    target = tmp_path / "saved.pdf"
    section.ask_save_path = lambda _document: target  # type: ignore[assignment]
    with qtbot.waitSignal(section.documentReady, timeout=10_000):
        section.save_document()
    assert target.read_bytes() == pdf(3000)
    opened: list[QUrl] = []
    section.open_url = opened.append  # type: ignore[assignment]
    with qtbot.waitSignal(section.documentReady, timeout=10_000) as ready:
        section.open_document()
    path = Path(str(ready.args[0]))
    assert [url.toLocalFile() for url in opened] == [str(path)]
    assert path.name == "Blood results.pdf" and path.read_bytes() == pdf(3000)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_consent_not_given_and_a_cancelled_visit_say_so(
        qtbot: QtBot, live: LiveNotifications) -> None:
    appointment_id = live.book(2)
    panel = panel_for(qtbot, live)
    shown(qtbot, panel, appointment_id)
    section = panel.telemedicine
    assert section.consent.text() == "Consent: not given yet (version 1)."
    assert section.documents.item(0).text() == "No documents yet."
    assert not section.open_document_button.isEnabled()
    with live.database() as session:
        row = by_id(session, db.Appointment, appointment_id)
        assert row is not None
        row.status = "cancelled"
        session.commit()
    shown(qtbot, panel, appointment_id)
    assert section.visit is not None and section.visit.video_url is None
    assert section.no_link.text().startswith("No video link yet")
    assert not section.link.isVisible()
    assert not section.open_button.isEnabled() and not section.copy_button.isEnabled()


def test_an_ordinary_visit_has_no_section_and_asks_the_server_nothing(
        qtbot: QtBot, live: LiveNotifications) -> None:
    appointment_id = live.book(3)
    with live.ctx.store.write() as session:
        from desktop.store.models import AppointmentRow, AppointmentTypeRow
        row = session.get(AppointmentRow, appointment_id)
        assert row is not None
        ordinary = session.get(AppointmentTypeRow, row.appointment_type_id)
        assert ordinary is not None
        ordinary.telemedicine = False
    try:
        panel = panel_for(qtbot, live)
        panel.show_appointment(appointment_id)
        assert not panel.telemedicine.isVisible() and panel.telemedicine.details is None
    finally:
        live.client.sync_once()
        with live.ctx.store.write() as session:
            kind = session.get(AppointmentTypeRow, live.clinic.type_id)
            assert kind is not None
            kind.telemedicine = True


def test_an_unreachable_server_is_said_plainly(qtbot: QtBot, live: LiveNotifications) -> None:
    appointment_id = live.book(4)
    panel = panel_for(qtbot, live)

    def offline(_method: str, _path: str, **_kwargs: object) -> object:
        from desktop.sync.errors import ServerUnreachable
        raise ServerUnreachable("ConnectionError")

    panel.telemedicine.set_service(TelemedicineService(offline))
    shown(qtbot, panel, appointment_id)
    assert "cannot be reached" in panel.telemedicine.state.text()


@pytest.mark.parametrize("language", ["en", "es"])
@pytest.mark.parametrize(("width", "height"), [(1600, 1000), (1280, 800)])
def test_the_section_fits_in_english_and_spanish(
        qtbot: QtBot, live: LiveNotifications, language: str, width: int,
        height: int) -> None:
    appointment_id = visit_with_consent_and_document(live, next(FIT_SLOTS))
    set_language(language)
    try:
        panel = panel_for(qtbot, live, width // 4, height)
        shown(qtbot, panel, appointment_id)
        qtbot.waitUntil(lambda: clipped(panel.telemedicine) == [], timeout=3000)  # laid out
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        panel.grab().save(str(SCREENSHOTS / f"telemedicine-section-{language}-{width}.png"))
    finally:
        set_language("en")


def consent_dialog(qtbot: QtBot, live: LiveNotifications) -> RecordEditorDialog:
    service = AdminService(signed_in_call(live.client, live.ctx.sessions))
    lookups = lookup_lists({"appointment-types": service.records(
        "/api/v1/admin/appointment-types")})
    dialog = RecordEditorDialog(CONSENT_FORMS, service, lookups, TZ)
    qtbot.addWidget(dialog)
    return dialog


def test_an_administrator_saves_a_new_consent_version_from_the_desk(
        qtbot: QtBot, live: LiveNotifications) -> None:
    dialog = consent_dialog(qtbot, live)
    first = dialog.records()[0]
    assert CONSENT_FORMS.describe(first, dialog._lookups) == "Check-up · version 1"
    dialog.select(first["id"])
    editors = {editor.spec.name: editor for editor in dialog.editors}
    assert editors["text_es"].value() == "Acepto."
    editors["text_en"].set_value("I agree to a video visit.\n\nMy documents stay private.")
    saved = dialog.save()
    assert saved is not None and saved["version"] >= 2
    editors["text_es"].set_value("mal\x00texto")
    assert dialog.save() is None
    assert dialog.error_label.text().startswith("The server refused:")
    assert "\x00" not in dialog.error_label.text()
    with live.database() as session:
        versions = consent.forms(session, live.clinic.org_id, live.clinic.type_id)
        assert [(f.version, f.text_en) for f in versions][:1] == [(1, "I agree.")]
        assert versions[-1].text_en.startswith("I agree to a video visit.")


@pytest.mark.parametrize("language", ["en", "es"])
@pytest.mark.parametrize(("width", "height"), [(1600, 1000), (1280, 800)])
def test_the_consent_forms_screen_fits_in_english_and_spanish(
        qtbot: QtBot, live: LiveNotifications, language: str, width: int,
        height: int) -> None:
    follow_desk_language()  # Qt's own buttons in the desk's language, as the window does
    set_language(language)
    try:
        dialog = consent_dialog(qtbot, live)
        dialog.select(dialog.records()[0]["id"])
        dialog.resize(width, height)
        dialog.show()
        QApplication.processEvents()
        qtbot.waitUntil(lambda: clipped(dialog) == [], timeout=3000)  # laid out
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        dialog.grab().save(str(SCREENSHOTS / f"admin-consent-forms-{language}-{width}.png"))
    finally:
        set_language("en")


def test_an_answer_about_an_appointment_no_longer_shown_is_dropped(
        qtbot: QtBot, live: LiveNotifications) -> None:
    first, second = live.book(20), visit_with_consent_and_document(live, 21)
    panel = panel_for(qtbot, live)
    section = panel.telemedicine
    with qtbot.waitSignal(section.loaded, timeout=10_000):
        panel.show_appointment(first)
        panel.show_appointment(second)  # before the first answer arrives
    assert section.visit is not None and section.visit.appointment_id == second
    assert section.documents.item(0).text().startswith("Blood results.pdf")
