"""The one gettext catalogue: complete Spanish, same placeholders, local-time rendering.

:mod:`scheduling.i18n` reads no file: the desk and the server load the catalogue files
(``desktop/translations.py``, ``sync_server/core/translations.py``) and hand it in; the
loading tests run against both."""

from __future__ import annotations

import gettext
import os
import shutil
import string
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from types import ModuleType

import pytest
from babel.messages.catalog import Catalog, Message
from babel.messages.pofile import read_po, write_po

from desktop import translations as desk_catalogues
from scheduling import i18n
from scheduling.commands import Refused
from scheduling.refusals import MESSAGES, RefusalCode
from sync_server.core import translations as server_catalogues
from tests.scheduling.calendar_fixtures import DR_ADAMS

TRANSLATIONS = Path(__file__).resolve().parents[2] / "translations"
SPANISH_PO = TRANSLATIONS / "es" / "LC_MESSAGES" / "clinicdesk.po"
NEW_YORK = "America/New_York"


def read_catalog(path: Path) -> Catalog:
    with path.open("rb") as stream:
        return read_po(stream)


def ids(message: Message) -> tuple[str, ...]:
    return message.id if isinstance(message.id, tuple) else (message.id,)


def strings(message: Message) -> tuple[str, ...]:
    return message.string if isinstance(message.string, tuple) else (message.string,)


def placeholders(text: str) -> set[str]:
    return {field for _, field, _, _ in string.Formatter().parse(text) if field is not None}


LOADERS = [desk_catalogues, server_catalogues]


def catalogue(language: str) -> gettext.NullTranslations:
    return desk_catalogues.translations(language)


@pytest.fixture(autouse=True)
def fresh_catalogues() -> Iterator[None]:
    for loader in LOADERS:
        loader.clear_cache()
    yield
    for loader in LOADERS:
        loader.clear_cache()


SPANISH = read_catalog(SPANISH_PO)
SPANISH_MESSAGES = [m for m in SPANISH if m.id]


@pytest.mark.parametrize("message", SPANISH_MESSAGES, ids=lambda m: ids(m)[0][:40])
def test_every_spanish_message_is_translated_and_reviewed(message: Message) -> None:
    assert all(s.strip() for s in strings(message)), f"untranslated: {message.id!r}"
    assert not message.fuzzy, f"fuzzy (review it, then drop the flag): {message.id!r}"


@pytest.mark.parametrize("message", SPANISH_MESSAGES, ids=lambda m: ids(m)[0][:40])
def test_spanish_keeps_exactly_the_placeholders_of_the_english(message: Message) -> None:
    wanted = set().union(*(placeholders(i) for i in ids(message)))
    for translated in strings(message):
        assert placeholders(translated) == wanted, (message.id, translated)


def test_the_template_and_the_spanish_catalogue_hold_the_same_messages() -> None:
    template = read_catalog(TRANSLATIONS / "clinicdesk.pot")
    assert {m.id for m in template if m.id} == {m.id for m in SPANISH_MESSAGES}


def test_every_refusal_message_has_a_spanish_translation() -> None:
    translated = {m.id for m in SPANISH_MESSAGES if m.string and not m.fuzzy}
    missing = [code for code, text in MESSAGES.items() if text not in translated]
    assert missing == [], "run translations/update.py and translate the new messages"


def test_every_domain_term_has_a_spanish_translation() -> None:
    translated = {m.id for m in SPANISH_MESSAGES if m.string and not m.fuzzy}
    assert set(i18n.TERMS.values()) <= translated


def test_provider_busy_in_spanish_shows_local_clinic_time_and_the_providers_name() -> None:
    params = {
        "provider": DR_ADAMS,
        "other_start": datetime(2026, 6, 1, 14, 0, tzinfo=UTC),
        "other_end": datetime(2026, 6, 1, 14, 30, tzinfo=UTC),
    }
    text = i18n.render(MESSAGES[RefusalCode.PROVIDER_BUSY], params, catalogue=catalogue("es"),
                       locale="es_ES", tz=NEW_YORK, names={DR_ADAMS: "Dr Adams"})
    assert text == "Dr Adams ya tiene una cita entre 1/6/26, 10:00 y 1/6/26, 10:30."


def test_render_refusal_translates_domain_words_in_parameters() -> None:
    refused = Refused(RefusalCode.ILLEGAL_TRANSITION, {"current": "completed",
                                                       "target": "booked"})
    text = i18n.render_refusal(refused, catalogue=catalogue("es"), locale="es_ES", tz=NEW_YORK)
    assert text == "Una cita en estado «completada» no puede pasar a «reservada»."


def test_dates_and_numbers_follow_the_locale() -> None:
    holiday = i18n.render(MESSAGES[RefusalCode.CLINIC_HOLIDAY],
                          {"clinic": "c1", "day": date(2026, 12, 25), "holiday": "Navidad"},
                          catalogue=catalogue("es"), locale="es_ES", tz=NEW_YORK,
                          names={"c1": "Clínica Centro"})
    capacity = i18n.render(MESSAGES[RefusalCode.CAPACITY_REACHED], {"capacity": 1200},
                           catalogue=catalogue("en"), locale="en_US", tz=NEW_YORK)
    assert holiday == "Clínica Centro no abre el 25 dic 2026 (Navidad)."
    assert capacity == "This group session is full (1,200 places)."


def test_an_unknown_language_falls_back_to_english() -> None:
    text = i18n.render(MESSAGES[RefusalCode.PROVIDER_BUSY],
                       {"provider": "Dr Adams",
                        "other_start": datetime(2026, 6, 1, 14, tzinfo=UTC),
                        "other_end": datetime(2026, 6, 1, 15, tzinfo=UTC)},
                       catalogue=catalogue("xx"), locale="en_US", tz=NEW_YORK)
    assert text.startswith("Dr Adams is already booked from 6/1/26, 10:00")
    assert "11:00" in text


@pytest.mark.parametrize("loader", LOADERS, ids=lambda m: m.__name__)
def test_a_regional_language_uses_its_base_catalogue(loader: ModuleType) -> None:
    assert loader.translations("es-MX").gettext("Please give a reason.") == "Indique un motivo."


def test_a_missing_parameter_stays_visible_instead_of_failing() -> None:
    text = i18n.render(MESSAGES[RefusalCode.PROVIDER_BUSY], {"provider": "Dr Adams"},
                       catalogue=catalogue("en"), locale="en_US", tz=NEW_YORK)
    assert text == "Dr Adams is already booked from {other_start} to {other_end}."


@pytest.mark.parametrize("loader", LOADERS, ids=lambda m: m.__name__)
def test_an_edited_po_is_used_without_compiling(
    loader: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    copy = tmp_path / "translations"
    shutil.copytree(TRANSLATIONS, copy, ignore=shutil.ignore_patterns("*.mo", "*.py"))
    po = copy / "es" / "LC_MESSAGES" / "clinicdesk.po"
    catalog = read_catalog(po)
    catalog[MESSAGES[RefusalCode.REASON_REQUIRED]].string = "Escriba el motivo, por favor."
    with po.open("wb") as stream:
        write_po(stream, catalog)
    monkeypatch.setenv(loader.TRANSLATIONS_ENV, str(copy))
    loader.clear_cache()

    text = i18n.render(MESSAGES[RefusalCode.REASON_REQUIRED], {},
                       catalogue=loader.translations("es"),
                       locale="es_ES", tz=NEW_YORK)

    assert text == "Escriba el motivo, por favor."
    assert not (po.parent / "clinicdesk.mo").exists()


@pytest.mark.parametrize("loader", LOADERS, ids=lambda m: m.__name__)
def test_a_stale_compiled_catalogue_gives_way_to_a_newer_po(
    loader: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "es" / "LC_MESSAGES"
    folder.mkdir(parents=True)
    shutil.copy(SPANISH_PO, folder / "clinicdesk.po")
    (folder / "clinicdesk.mo").write_bytes(b"stale, and not even a catalogue")
    old = (folder / "clinicdesk.po").stat().st_mtime - 60
    os.utime(folder / "clinicdesk.mo", (old, old))
    monkeypatch.setenv(loader.TRANSLATIONS_ENV, str(tmp_path))

    assert loader.translations("es").gettext("Please give a reason.") == "Indique un motivo."


def test_a_language_code_that_is_a_path_finds_no_catalogue_file() -> None:
    assert i18n.catalogue_files("../es") == ()
    assert i18n.catalogue_files("es-MX") == (
        ("es_MX/LC_MESSAGES/clinicdesk.mo", "es_MX/LC_MESSAGES/clinicdesk.po"),
        ("es/LC_MESSAGES/clinicdesk.mo", "es/LC_MESSAGES/clinicdesk.po"),
    )
