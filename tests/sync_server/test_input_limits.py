"""One bound for every input: the columns, the sync decoder and the REST bodies agree.

The limits are read from the server's ORM columns here, never copied: a column
that grows or shrinks without :mod:`scheduling.limits` (and so the decoder and the
REST bodies) following makes these tests fail. Each input field is tried at its
column's size (accepted), one character past it, with NUL and another control
character (refused with a message that names the field, never the value).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError
from sqlalchemy import String, Text
from sqlalchemy.sql.schema import Column

from scheduling import intents, limits
from scheduling.commands import Actor
from scheduling.errors import SchedulingInputError
from sync_server.api.routes import admin as admin_api
from sync_server.api.routes import appointments as appointments_api
from sync_server.db import models
from sync_server.feeds import models as feed_models  # noqa: F401 - the feed tables too
from sync_server.fhir import models as fhir_models  # noqa: F401 - and every other package's
from sync_server.followups import models as followup_models  # noqa: F401
from sync_server.notifications import models as notification_models  # noqa: F401
from sync_server.outages import models as outage_models  # noqa: F401
from sync_server.portal import models as portal_models  # noqa: F401 - the portal tables too
from sync_server.telemedicine import models as telemedicine_models  # noqa: F401
from sync_server.telemedicine import session_tables as telemedicine_sessions  # noqa: F401
from sync_server.waitlist import models as waitlist_models  # noqa: F401

ACTOR = Actor("user-1", None, frozenset())


def column(table: type[models.Base], name: str) -> Column[Any]:
    found = table.__table__.columns[name]  # type: ignore[attr-defined]
    assert isinstance(found, Column)
    return found


def column_limit(table: type[models.Base], name: str) -> int:
    """The longest text the column holds: its declared length, or the NOTE bound for TEXT."""
    kind = column(table, name).type
    if isinstance(kind, Text):
        return limits.NOTE
    assert isinstance(kind, String) and kind.length is not None, f"{table.__name__}.{name}"
    return kind.length


# --------------------------------------------------------------------------- every column


#: Every text column of the server: the limit an input for it is checked against, or None
#: when only the server writes it (hashes, codes, enum values, generated ids).
COLUMN_LIMITS: dict[str, int | None] = {
    "organizations.id": limits.ID, "organizations.name": limits.NAME,
    "organizations.slug": limits.SLUG,
    "config_versions.organization_id": limits.ID,
    "clinics.id": limits.ID, "clinics.name": limits.NAME, "clinics.time_zone": limits.TIME_ZONE,
    "clinics.locale": None, "clinics.address": limits.NOTE,
    "clinics.opening_hours": limits.NAME,
    "departments.id": limits.ID, "departments.name": limits.NAME,
    "users.id": None, "users.email": limits.EMAIL, "users.display_name": limits.NAME,
    "users.password_hash": None, "users.totp_secret": None, "users.totp_pending_secret": None,
    "recovery_codes.id": None, "recovery_codes.code_hash": None,
    "permissions.code": None, "permissions.description": None,
    "roles.id": None, "roles.name": None,
    "role_permissions.permission": None, "user_roles.id": None,
    "devices.id": None, "devices.client_id": limits.ID, "devices.name": limits.NAME,
    "devices.token_hash": None,
    "enrollment_codes.id": None, "enrollment_codes.code_hash": None,
    "refresh_tokens.id": None, "refresh_tokens.token_hash": None,
    "resources.id": limits.ID, "resources.kind": None, "resources.name": limits.NAME,
    "resources.user_id": limits.ID, "resources.specialty": limits.NAME,
    "resources.licence_number": limits.LICENCE_NUMBER,
    "outages.id": limits.ID, "outages.reason": limits.REASON,
    "appointment_types.id": limits.ID, "appointment_types.name": limits.NAME,
    "appointment_types.color": None,
    "resources.color": None,
    "appointments.cancel_category": None,  # one of scheduling.cancellation's fixed list
    "appointments.visit_id": limits.ID, "appointments.slot_template_id": limits.ID,
    "appointments.encounter_ref": limits.ENCOUNTER_REF,
    "slot_templates.id": limits.ID, "slot_templates.name": limits.NAME,
    "weekly_schedules.id": limits.ID,
    "schedule_exceptions.id": limits.ID, "schedule_exceptions.kind": None,
    "schedule_exceptions.reason": limits.REASON,
    "holidays.id": limits.ID, "holidays.name": limits.NAME,
    "blockouts.id": limits.ID, "blockouts.reason": limits.REASON,
    "quotas.id": limits.ID, "quotas.period": None, "quotas.department_id": limits.ID,
    "patients.id": limits.ID, "patients.given_name": limits.PERSON_NAME,
    "patients.family_name": limits.PERSON_NAME, "patients.phone": limits.PHONE,
    "patients.email": limits.EMAIL, "patients.address": limits.NOTE,
    "patients.insurance_provider": limits.INSURANCE_PROVIDER,
    "patients.insurance_id": limits.INSURANCE_ID,
    "patients.preferred_language": limits.LANGUAGE,
    "series.id": limits.ID, "series.rrule": limits.RRULE,
    "appointments.id": limits.APPOINTMENT_ID, "appointments.status": None,
    "appointments.source": None, "appointments.notes": limits.NOTE,
    "appointments.patient_notes": limits.NOTE, "appointments.override_reason": limits.REASON,
    "appointments.cancel_reason": limits.REASON, "appointments.last_status_previous": None,
    "appointments.last_status_actor_id": None,
    "appointment_resources.id": None, "appointment_resources.appointment_id":
        limits.APPOINTMENT_ID,
    "appointment_financials.id": None, "appointment_financials.appointment_id":
        limits.APPOINTMENT_ID, "appointment_financials.payment_status": None,
    "waitlist_entries.id": limits.ID, "waitlist_entries.note": limits.NOTE,
    "client_mutations.client_id": limits.ID,
    "conflicts.id": None, "conflicts.client_id": limits.ID, "conflicts.name": limits.INTENT_NAME,
    "conflicts.code": None, "conflicts.message_id": None,
    "change_log.entity": None, "change_log.entity_id": limits.APPOINTMENT_ID, "change_log.op": None,
    "audit_log.intent": None, "audit_log.actor_user_id": None,
    "audit_log.actor_device_id": None, "audit_log.target_type": None, "audit_log.target_id": None,
    "audit_log.outcome": None, "audit_log.reason": None, "audit_log.prev_hash": None,
    "audit_log.hash": None, "audit_heads.hash": None,
    "login_lockouts.client_address": None,  # the connection's address, cut to 64
    "calendar_feeds.id": None, "calendar_feeds.label": limits.NAME,
    "calendar_feeds.token_hash": None, "calendar_feeds.privacy": None,
    "calendar_feeds.language": limits.LANGUAGE, "calendar_feeds.created_by_user_id": None,
    "calendar_feed_fetches.client_address": None, "calendar_feed_fetches.method": None,
    "busy_calendars.id": None, "busy_calendars.url": limits.URL,
    "busy_calendars.last_error": None,
    "patients.contact_preference": limits.CONTACT_PREFERENCE,
    **{f"notifications.{name}": None for name in (
        "id", "clinic_id", "appointment_id", "patient_id", "kind", "recipient", "channel",
        "state", "lease_owner", "provider_message_id", "error_code", "recipient_hint",
        "fallback_of")},
    **{f"notification_exceptions.{name}": None for name in (
        "id", "notification_id", "appointment_id", "patient_id", "kind", "reason",
        "resolved_by")},
    "notification_exceptions.resolution_note": limits.REASON,
    # Care loops: ids, states and kinds are server-written; notes and reasons are input.
    **{f"follow_ups.{name}": None for name in (
        "id", "clinic_id", "patient_id", "appointment_type_id", "kind", "state",
        "satisfied_by", "source_appointment_id")},
    **{f"follow_up_contacts.{name}": None for name in (
        "id", "by_user_id", "kind", "notification_id")},
    "follow_up_contacts.note": limits.REASON,
    **{f"outage_incidents.{name}": None for name in (
        "id", "created_by", "outage_id", "resource_id")},
    "outage_incidents.reason": limits.REASON,
    **{f"outage_decisions.{name}": None for name in (
        "id", "action", "appointment_id", "by_user_id", "provider_id", "room_id")},
    **{f"freed_slots.{name}": None for name in (
        "id", "booked_appointment_id", "clinic_id", "provider_id", "reason", "room_id",
        "source_appointment_id", "state")},
    **{f"patient_no_shows.{name}": None for name in ("id", "appointment_id", "patient_id")},
    **{f"waitlist_offers.{name}": None for name in (
        "id", "appointment_id", "entry_id", "offered_by", "patient_id", "state")},
    # Hand-off and FHIR clients: bounded by sync_server.fhir (clients.register checks the
    # name, handoff.begin the state and the return URL); the rest is server-written.
    **{f"fhir_clients.{name}": None for name in (
        "id", "client_id", "secret_hash", "created_by_user_id")},
    "fhir_clients.name": 200, "fhir_publications.digest": None,
    **{f"fhir_slot_states.{name}": None for name in ("id", "schedule_id", "status")},
    **{f"fhir_handoffs.{name}": None for name in (
        "id", "state_hash", "outcome", "reason", "appointment_id")},
    "fhir_handoffs.state": 512, "fhir_handoffs.return_url": 2000,
    "fhir_result_tokens.token_hash": None, "fhir_result_tokens.appointment_id": None,
    # The portal: hashes and ids written by the server; the verified address is bounded
    # by the sign-in form (limits.EMAIL; a phone is normalized first).
    "portal_codes.id": None, "portal_codes.address_hash": None, "portal_codes.code_hash": None,
    "portal_sessions.token_hash": None, "portal_sessions.channel": None,
    "portal_sessions.address": limits.EMAIL, "portal_sessions.code_id": None,
    "portal_sessions.patient_id": None, "portal_sessions.handoff_id": None,
    "notification_settings.quiet_start": None, "notification_settings.quiet_end": None,
    "notification_settings.public_base_url": limits.BASE_URL,
    "notification_settings.clinic_phone": limits.PHONE,
    "notification_settings.smtp_host": limits.HOST,
    "notification_settings.smtp_username": limits.HOST,
    "notification_settings.smtp_password": limits.SECRET,
    "notification_settings.email_sender": limits.EMAIL,
    "notification_settings.sms_gateway_url": limits.BASE_URL,
    "notification_settings.sms_account_id": limits.ACCOUNT_ID,
    "notification_settings.sms_api_key": limits.SECRET,
    "notification_settings.sms_sender": limits.PHONE,
    "notification_templates.kind": None, "notification_templates.channel": None,
    "notification_templates.language": None,
    "notification_templates.subject": limits.TEMPLATE_SUBJECT,
    "notification_templates.body_text": limits.TEMPLATE,
    "notification_templates.body_html": limits.TEMPLATE,
    "notification_replies.notification_id": None, "notification_replies.action": None,
    "notification_replies.via": None, "notification_replies.outcome": None,
    "telemedicine_settings.url_template": limits.BASE_URL,
    "provider_video_links.url": limits.BASE_URL,
    **{f"video_rooms.{name}": None for name in ("appointment_id", "room")},
    "consent_forms.id": None, "consent_forms.created_by": None,
    "consent_forms.text_en": limits.TEMPLATE, "consent_forms.text_es": limits.TEMPLATE,
    **{f"consent_acceptances.{name}": None for name in (
        "id", "appointment_id", "patient_id", "channel", "language")},
    **{f"visit_documents.{name}": None for name in (
        "id", "appointment_id", "content_type")},
    **{f"telemedicine_events.{name}": None for name in (
        "id", "appointment_id", "role", "action", "provider_id", "user_id", "problem")},
    "telemedicine_events.problem_text": 300,  # sync_server.telemedicine.session_tables
    **{f"telemedicine_no_joins.{name}": None for name in (
        "id", "appointment_id", "provider_id", "state", "lease_owner", "backup_provider_id")},
    "fee_waivers.id": None, "fee_waivers.waived_by": None,
    "fee_waivers.reason": limits.REASON,
}


def _text_columns() -> list[tuple[str, Column[Any]]]:
    found = []
    for table in models.Base.metadata.sorted_tables:
        for col in table.columns:
            if isinstance(col.type, String) and not col.foreign_keys:
                found.append((f"{table.name}.{col.name}", col))
    return found


def test_every_text_column_is_classified_as_input_or_server_written() -> None:
    unclassified = sorted(name for name, _col in _text_columns() if name not in COLUMN_LIMITS)
    assert unclassified == [], "add these columns to COLUMN_LIMITS (and scheduling.limits)"


@pytest.mark.parametrize("name", sorted(k for k, v in COLUMN_LIMITS.items() if v is not None))
def test_the_limit_of_each_input_column_is_its_size(name: str) -> None:
    table_name, column_name = name.split(".")
    col = models.Base.metadata.tables[table_name].columns[column_name]
    limit = COLUMN_LIMITS[name]
    assert limit is not None
    if isinstance(col.type, Text):
        assert limit == limits.NOTE  # unbounded column: the product's bound for notes
    else:
        assert isinstance(col.type, String)
        assert col.type.length == limit, f"{name} holds {col.type.length}, limit says {limit}"


# --------------------------------------------------------------------------- sync decoder

NOW = datetime(2026, 3, 2, 8, tzinfo=UTC)


def _id() -> str:
    return str(uuid.uuid4())


def _book_args() -> dict[str, Any]:
    return {"appointment_id": _id(), "clinic_id": _id(), "patient_id": _id(),
            "appointment_type_id": _id(), "provider_id": _id(), "start": NOW.isoformat()}


VALID: dict[str, Any] = {
    intents.APPOINTMENT_BOOK: _book_args,
    intents.APPOINTMENT_CANCEL: lambda: {"appointment_id": _id(), "reason": ""},
    intents.APPOINTMENT_MOVE: lambda: {"appointment_id": _id(), "start": NOW.isoformat()},
    intents.PATIENT_CREATE: lambda: {"patient_id": _id(), "given_name": "Ana",
                                     "family_name": "Ruiz"},
    intents.BLOCKOUT_CREATE: lambda: {"blockout_id": _id(), "clinic_id": _id(),
                                      "start": NOW.isoformat(),
                                      "end": NOW.replace(hour=9).isoformat()},
    intents.WAITLIST_ADD: lambda: {"entry_id": _id(), "clinic_id": _id(), "patient_id": _id(),
                                   "appointment_type_id": _id(),
                                   "created_at": NOW.isoformat()},
    intents.SERIES_BOOK: lambda: {"series_id": _id(), "clinic_id": _id(), "patient_id": _id(),
                                  "appointment_type_id": _id(), "provider_id": _id(),
                                  "rrule": "FREQ=WEEKLY;COUNT=3",
                                  "first_local": "2026-03-02T09:00:00"},
}

#: (intent, field) → the column the field is stored in.
INTENT_FIELDS: list[tuple[str, str, type[models.Base], str]] = [
    (intents.APPOINTMENT_BOOK, "appointment_id", models.Appointment, "id"),
    (intents.APPOINTMENT_BOOK, "clinic_id", models.Clinic, "id"),
    (intents.APPOINTMENT_BOOK, "patient_id", models.Patient, "id"),
    (intents.APPOINTMENT_BOOK, "provider_id", models.Resource, "id"),
    (intents.APPOINTMENT_BOOK, "room_id", models.Resource, "id"),
    (intents.APPOINTMENT_BOOK, "notes", models.Appointment, "notes"),
    (intents.APPOINTMENT_BOOK, "patient_notes", models.Appointment, "patient_notes"),
    (intents.APPOINTMENT_BOOK, "override_reason", models.Appointment, "override_reason"),
    (intents.APPOINTMENT_BOOK, "series_id", models.Series, "id"),
    (intents.APPOINTMENT_CANCEL, "reason", models.Appointment, "cancel_reason"),
    (intents.APPOINTMENT_BOOK, "visit_id", models.Appointment, "visit_id"),
    (intents.APPOINTMENT_BOOK, "slot_template_id", models.Appointment, "slot_template_id"),
    (intents.APPOINTMENT_MOVE, "appointment_id", models.Appointment, "id"),
    (intents.PATIENT_CREATE, "patient_id", models.Patient, "id"),
    (intents.PATIENT_CREATE, "given_name", models.Patient, "given_name"),
    (intents.PATIENT_CREATE, "family_name", models.Patient, "family_name"),
    (intents.PATIENT_CREATE, "phone", models.Patient, "phone"),
    (intents.PATIENT_CREATE, "email", models.Patient, "email"),
    (intents.PATIENT_CREATE, "preferred_language", models.Patient, "preferred_language"),
    (intents.BLOCKOUT_CREATE, "blockout_id", models.Blockout, "id"),
    (intents.BLOCKOUT_CREATE, "reason", models.Blockout, "reason"),
    (intents.WAITLIST_ADD, "entry_id", models.WaitlistEntry, "id"),
    (intents.WAITLIST_ADD, "note", models.WaitlistEntry, "note"),
    (intents.SERIES_BOOK, "series_id", models.Series, "id"),
    (intents.SERIES_BOOK, "rrule", models.Series, "rrule"),
]


def _decode(name: str, args: dict[str, Any]) -> Any:
    return intents.decode(name, args, ACTOR)


def _refused(name: str, args: dict[str, Any], field: str) -> str:
    with pytest.raises(SchedulingInputError) as caught:
        _decode(name, args)
    message = str(caught.value)
    assert field in message
    return message


@pytest.mark.parametrize(("name", "field", "table", "column_name"), INTENT_FIELDS,
                         ids=[f"{n}.{f}" for n, f, _t, _c in INTENT_FIELDS])
def test_an_intent_field_takes_its_columns_size_and_not_one_more(
    name: str, field: str, table: type[models.Base], column_name: str,
) -> None:
    size = column_limit(table, column_name)
    if field != "rrule":  # a rule of exactly that size would have to be a valid rule
        _decode(name, {**VALID[name](), field: "x" * size})
    _refused(name, {**VALID[name](), field: "x" * (size + 1)}, field)


@pytest.mark.parametrize(("name", "field"), [(n, f) for n, f, _t, _c in INTENT_FIELDS],
                         ids=[f"{n}.{f}" for n, f, _t, _c in INTENT_FIELDS])
@pytest.mark.parametrize("bad", ["\x00", "\x1b", "\ud800"], ids=["NUL", "ESC", "surrogate"])
def test_an_intent_field_refuses_nul_and_control_characters_without_echoing(
    name: str, field: str, bad: str,
) -> None:
    planted = f"Zebulon{bad}Quaxley"
    message = _refused(name, {**VALID[name](), field: planted}, field)
    assert "Zebulon" not in message and "Quaxley" not in message


def test_notes_and_reasons_may_hold_line_breaks_but_names_may_not() -> None:
    _decode(intents.APPOINTMENT_BOOK, {**_book_args(), "notes": "first line\nsecond\tline"})
    _refused(intents.PATIENT_CREATE, {**VALID[intents.PATIENT_CREATE](),
                                      "given_name": "Ana\nRuiz"}, "given_name")


@pytest.mark.parametrize("moment", ["0001-01-01T00:00:00+00:00", "9999-12-31T23:59:59+00:00",
                                    "1899-12-31T23:59:59+00:00", "2201-01-01T00:00:00+00:00"])
@pytest.mark.parametrize(("name", "field"), [
    (intents.APPOINTMENT_BOOK, "start"), (intents.APPOINTMENT_BOOK, "end"),
    (intents.APPOINTMENT_MOVE, "start"), (intents.BLOCKOUT_CREATE, "end"),
    (intents.WAITLIST_ADD, "created_at"), (intents.SERIES_BOOK, "first_local"),
])
def test_instants_outside_1900_to_2200_are_refused(name: str, field: str, moment: str) -> None:
    value = moment[:19] if field == "first_local" else moment
    _refused(name, {**VALID[name](), field: value}, field)


def test_the_first_and_last_accepted_years_decode() -> None:
    _decode(intents.APPOINTMENT_MOVE, {"appointment_id": _id(),
                                       "start": f"{limits.EARLIEST_YEAR}-01-01T00:00:00+00:00"})
    _decode(intents.APPOINTMENT_MOVE, {"appointment_id": _id(),
                                       "start": f"{limits.LATEST_YEAR}-12-31T23:00:00+00:00"})


@pytest.mark.parametrize(("field", "column_name"), [
    ("given_name", "given_name"), ("family_name", "family_name"), ("phone", "phone"),
    ("email", "email")])
def test_patient_update_changes_are_bounded_by_their_columns(field: str,
                                                             column_name: str) -> None:
    size = column_limit(models.Patient, column_name)
    _decode(intents.PATIENT_UPDATE, {"patient_id": _id(), "changes": {field: "x" * size}})
    _refused(intents.PATIENT_UPDATE,
             {"patient_id": _id(), "changes": {field: "x" * (size + 1)}}, field)
    _refused(intents.PATIENT_UPDATE, {"patient_id": _id(), "changes": {field: "a\x00b"}}, field)


@pytest.mark.parametrize(("field", "value"), [("priority", 10**12), ("priority", -(10**12))])
def test_waitlist_numbers_are_bounded(field: str, value: int) -> None:
    _refused(intents.WAITLIST_ADD, {**VALID[intents.WAITLIST_ADD](), field: value}, field)


def test_a_series_duration_is_bounded() -> None:
    _refused(intents.SERIES_BOOK, {**VALID[intents.SERIES_BOOK](),
                                   "duration_seconds": 10**15}, "duration_seconds")


# --------------------------------------------------------------------------- REST bodies

#: (body model, field) → the column it is stored in.
REST_FIELDS: list[tuple[type[BaseModel], str, type[models.Base], str]] = [
    (admin_api.PatientBody, "given_name", models.Patient, "given_name"),
    (admin_api.PatientBody, "family_name", models.Patient, "family_name"),
    (admin_api.PatientBody, "phone", models.Patient, "phone"),
    (admin_api.PatientBody, "email", models.Patient, "email"),
    (admin_api.PatientBody, "address", models.Patient, "address"),
    (admin_api.PatientBody, "insurance_provider", models.Patient, "insurance_provider"),
    (admin_api.PatientBody, "insurance_id", models.Patient, "insurance_id"),
    (admin_api.ClinicBody, "name", models.Clinic, "name"),
    (admin_api.ResourceBody, "name", models.Resource, "name"),
    (admin_api.OutageBody, "reason", models.Outage, "reason"),
    (admin_api.OutageBody, "resource_id", models.Resource, "id"),
    (admin_api.BlockoutBody, "reason", models.Blockout, "reason"),
    (admin_api.BlockoutBody, "clinic_id", models.Clinic, "id"),
    (admin_api.HolidayBody, "name", models.Holiday, "name"),
    (admin_api.ScheduleExceptionBody, "reason", models.ScheduleException, "reason"),
    (admin_api.WaitlistEntryBody, "note", models.WaitlistEntry, "note"),
    (admin_api.WaitlistEntryBody, "patient_id", models.Patient, "id"),
    (appointments_api.BookBody, "appointment_id", models.Appointment, "id"),
    (appointments_api.BookBody, "patient_id", models.Patient, "id"),
    (appointments_api.BookBody, "notes", models.Appointment, "notes"),
    (appointments_api.BookBody, "override_reason", models.Appointment, "override_reason"),
    (appointments_api.CancelBody, "reason", models.Appointment, "cancel_reason"),
    (appointments_api.SeriesBody, "rrule", models.Series, "rrule"),
]


def _max_length(model: type[BaseModel], field: str) -> int:
    schema = model.model_json_schema()["properties"][field]
    options = schema.get("anyOf", [schema])
    found = {o["maxLength"] for o in options if "maxLength" in o}
    assert len(found) == 1, schema
    return found.pop()


@pytest.mark.parametrize(("model", "field", "table", "column_name"), REST_FIELDS,
                         ids=[f"{m.__name__}.{f}" for m, f, _t, _c in REST_FIELDS])
def test_a_rest_field_documents_and_enforces_its_columns_size(
    model: type[BaseModel], field: str, table: type[models.Base], column_name: str,
) -> None:
    size = column_limit(table, column_name)
    assert _max_length(model, field) == size
    for bad in ("x" * (size + 1), "a\x00b"):
        with pytest.raises(ValidationError) as caught:
            model.__pydantic_validator__.validate_assignment(
                model.model_construct(), field, bad)
        assert [e["loc"] for e in caught.value.errors()] == [(field,)]
