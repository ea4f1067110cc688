"""Every administration screen's record kind: its fields, its list line and the checks
the server would make (so most mistakes are caught before anything is sent)."""

from __future__ import annotations

from typing import Any
from zoneinfo import available_timezones

from desktop.services.admin import CONFIGURE, USERS, Record
from desktop.services.financials import FinancialError, amount
from desktop.ui.admin.consent_forms import CONSENT_FORMS
from desktop.ui.admin.fields import FieldSpec, Lookups
from desktop.ui.admin.handoff_clients import HANDOFF_CLIENTS
from desktop.ui.admin.record_editor import RecordKind
from desktop.ui.text import N_, _
from scheduling.financials import cents, from_cents
from scheduling.followups import MAX_FOLLOW_UP_DAYS, MAX_RECALL_MONTHS

ADMIN = "/api/v1/admin"
DAY = 24 * 60
WEEKDAYS = ((0, N_("Monday")), (1, N_("Tuesday")), (2, N_("Wednesday")),
            (3, N_("Thursday")), (4, N_("Friday")), (5, N_("Saturday")), (6, N_("Sunday")))


def name_of(lookups: Lookups, lookup: str, value: Any) -> str:
    return next((label for key, label in lookups.get(lookup, []) if key == value),
                _("(none)") if value is None else str(value))


def _clinic_problem(v: dict[str, Any]) -> str | None:
    if v["time_zone"] not in available_timezones():
        return _("Unknown time zone: use a name such as Europe/Madrid or America/Mexico_City.")
    return None


def _type_problem(v: dict[str, Any]) -> str | None:
    if not v["min_duration_seconds"] <= v["default_duration_seconds"] <= v[
            "max_duration_seconds"]:
        return _("The durations must satisfy minimum ≤ default ≤ maximum.")
    return None


def _range_problem(v: dict[str, Any]) -> str | None:
    if v["end"] <= v["start"]:
        return _("The end must be after the start.")
    return None


def _schedule_problem(v: dict[str, Any]) -> str | None:
    if v["end"] <= v["start"]:
        return _("The working hours must end after they start.")
    previous = ""
    for item in sorted(v["breaks"], key=lambda b: b["start"]):
        if item["end"] <= item["start"]:
            return _("Each break must end after it starts.")
        if item["start"] < v["start"] or item["end"] > v["end"]:
            return _("Breaks must lie within the working hours.")
        if previous and item["start"] < previous:
            return _("Breaks must not overlap.")
        previous = item["end"]
    if v["valid_from"] and v["valid_until"] and v["valid_until"] < v["valid_from"]:
        return _("The last valid day must not be before the first.")
    return None


#: From, until and why: the fields of time off and of a blockout.
PERIOD = (FieldSpec("start", N_("From"), "instant"), FieldSpec("end", N_("Until"), "instant"),
          FieldSpec("reason", N_("Reason"), default="", max_length=500))
CLINIC = FieldSpec("clinic_id", N_("Clinic"), "choice", lookup="clinics", required=True)
#: A provider's, room's or quota's department (none: shared by the organization).
DEPARTMENT = FieldSpec("department_id", N_("Department"), "choice", lookup="departments",
                       optional=True)


def _minutes(name: str, label: str, low: int = 1, high: int = DAY) -> FieldSpec:
    return FieldSpec(name, label, "int", minimum=low, maximum=high, unit=60, default=low * 60)


CLINICS = RecordKind(
    "clinics", f"{ADMIN}/clinics", N_("Clinics"),
    N_("Each clinic has its time zone (bookings follow its wall clock), its address and "
       "opening hours as shown to patients."),
    (FieldSpec("name", N_("Name"), required=True),
     FieldSpec("time_zone", N_("Time zone"), required=True, default="Europe/Madrid",
               max_length=64),
     FieldSpec("locale", N_("Language and formats"), "choice", default="es_ES",
               options=(("es_ES", N_("Spanish (Spain)")), ("es_MX", N_("Spanish (Mexico)")),
                        ("en_US", N_("English (United States)")),
                        ("en_GB", N_("English (United Kingdom)")))),
     FieldSpec("address", N_("Address"), "multiline"),
     FieldSpec("opening_hours", N_("Opening hours"), default=""),
     FieldSpec("active", N_("Active"), "bool", default=True)),
    lambda r, _l: f"{r['name']} · {r['time_zone']}",
    _clinic_problem, removable=False)

PROVIDERS = RecordKind(
    "providers", f"{ADMIN}/resources", N_("Providers"),
    N_("Practitioners who take appointments: their clinics, specialty and licence number. "
       "Link a provider to a user account to let them manage their own schedule."),
    (FieldSpec("name", N_("Name"), required=True),
     FieldSpec("specialty", N_("Specialty"), default=""),
     FieldSpec("licence_number", N_("Licence number"), max_length=50, default=""),
     FieldSpec("clinic_ids", N_("Clinics"), "many", lookup="clinics", default=[]),
     FieldSpec("user_id", N_("User account"), "choice", lookup="users", optional=True),
     DEPARTMENT,
     FieldSpec("color", N_("Agenda colour (#rrggbb, or empty)"), default="", max_length=7),
     FieldSpec("active", N_("Active"), "bool", default=True)),
    lambda r, _l: f"{r['name']}" + (f" · {r['specialty']}" if r.get("specialty") else ""),
    lambda v: None if not v["color"] or _is_colour(v["color"]) else _(
        "A colour is written #rrggbb, e.g. #4a90d9."),
    keep=lambda r: r.get("kind") == "provider", fixed={"kind": "provider"},
    removable=False, lookups=("clinics", "users", "departments"))

def _restriction_form(record: Record) -> Record:
    restriction = record.get("restriction") or {}
    return {**record, "restricted": bool(record.get("restriction")),
            "requires_approval": restriction.get("requires_approval", True),
            "min_lead_time_seconds": restriction.get("min_lead_time_seconds", 0)}


def _restriction_api(values: Record) -> Record:
    flat = dict(values)
    restricted = flat.pop("restricted")
    approval, lead = flat.pop("requires_approval"), flat.pop("min_lead_time_seconds")
    flat["restriction"] = ({"requires_approval": approval, "min_lead_time_seconds": lead}
                           if restricted else None)
    return flat


ROOMS = RecordKind(
    "rooms", f"{ADMIN}/resources", N_("Rooms and equipment"),
    N_("Rooms, chairs and equipment that appointments need. A restricted one is booked "
       "only with approval and a minimum lead time."),
    (FieldSpec("kind", N_("Kind"), "choice", create_only=True, default="room",
               options=(("room", N_("Room")), ("equipment", N_("Equipment")))),
     FieldSpec("name", N_("Name"), required=True),
     FieldSpec("clinic_ids", N_("Clinics"), "many", lookup="clinics", default=[]),
     DEPARTMENT,
     FieldSpec("restricted", N_("Restricted"), "bool", default=False),
     FieldSpec("requires_approval", N_("Needs approval"), "bool", default=True),
     FieldSpec("min_lead_time_seconds", N_("Minimum lead time (hours)"), "int",
               maximum=24 * 366, unit=3600, default=0),
     FieldSpec("active", N_("Active"), "bool", default=True)),
    lambda r, _l: f"{r['name']} · {_('Room') if r['kind'] == 'room' else _('Equipment')}"
                  + (" · " + _("restricted") if r.get("restriction") else ""),
    keep=lambda r: r.get("kind") in ("room", "equipment"), removable=False,
    lookups=("clinics", "departments"), to_form=_restriction_form, to_api=_restriction_api)

APPOINTMENT_TYPES = RecordKind(
    "appointment_types", f"{ADMIN}/appointment-types", N_("Appointment types"),
    N_("What can be booked: durations (minutes), buffers kept free around it, how many "
       "patients share a slot, and whether patients may book it online."),
    (FieldSpec("name", N_("Name"), required=True),
     FieldSpec("names", N_("Name in Spanish"), "names", default={}),
     _minutes("default_duration_seconds", N_("Usual length (minutes)"), 5),
     _minutes("min_duration_seconds", N_("Shortest (minutes)"), 5),
     _minutes("max_duration_seconds", N_("Longest (minutes)"), 5),
     FieldSpec("buffer_before_seconds", N_("Buffer before (minutes)"), "int", maximum=DAY,
               unit=60, default=0),
     FieldSpec("buffer_after_seconds", N_("Buffer after (minutes)"), "int", maximum=DAY,
               unit=60, default=0),
     FieldSpec("capacity", N_("Patients per slot"), "int", minimum=1, maximum=1000, default=1),
     FieldSpec("online_bookable", N_("Patients may book online"), "bool", default=False),
     FieldSpec("telemedicine", N_("Video visit"), "bool", default=False),
     FieldSpec("color", N_("Colour (#rrggbb)"), default="#4a90d9", max_length=7),
     FieldSpec("follow_up_days", N_("Follow-up within (days)"), "int", minimum=1,
               maximum=MAX_FOLLOW_UP_DAYS, optional=True),
     FieldSpec("recall_months", N_("Recall after (months)"), "int", minimum=1,
               maximum=MAX_RECALL_MONTHS, optional=True),
     FieldSpec("active", N_("Active"), "bool", default=True)),
    lambda r, _l: f"{r['name']} · {r['default_duration_seconds'] // 60} min",
    lambda v: _type_problem(v) or (None if _is_colour(v["color"]) else
                                   _("A colour is written #rrggbb, e.g. #4a90d9.")),
    removable=False)


def _is_colour(text: str) -> bool:
    return len(text) == 7 and text[0] == "#" and all(c in "0123456789abcdefABCDEF"
                                                     for c in text[1:])


def late_fee_form(record: Record) -> Record:
    """The fee in cents as the form shows it ("25.00"; empty: no fee)."""
    cents = record.get("late_cancellation_fee_cents")
    return {**record, "late_cancellation_fee": "" if cents is None else str(from_cents(cents))}


def late_fee_problem(values: Record) -> str | None:
    text = str(values["late_cancellation_fee"]).strip()
    try:
        if text:
            amount(text, "late_cancellation_fee")
    except FinancialError:
        return _("Write the late-cancellation fee like 25.00 (not negative, at most two "
                 "decimals), or leave it empty for no fee.")
    return None


def late_fee_api(values: Record) -> Record:
    flat = dict(values)
    text = str(flat.pop("late_cancellation_fee")).strip()
    flat["late_cancellation_fee_cents"] = (cents(amount(text, "late_cancellation_fee"))
                                           if text else None)
    return flat


BOOKING_POLICIES = RecordKind(
    "booking_policies", f"{ADMIN}/appointment-types", N_("Booking policies"),
    N_("Per appointment type: how short the notice may be, how far ahead patients may "
       "book, until when they may cancel, how often they may reschedule, and the fee of a "
       "later cancellation."),
    (FieldSpec("min_notice_seconds", N_("Minimum notice (hours)"), "int", maximum=24 * 366,
               unit=3600, default=0),
     FieldSpec("max_days_ahead", N_("Bookable up to (days ahead)"), "int", minimum=1,
               maximum=3660, optional=True),
     FieldSpec("cancellation_period_seconds", N_("Free cancellation until (hours before)"),
               "int", maximum=24 * 366, unit=3600, default=0),
     FieldSpec("reschedule_limit", N_("Reschedules allowed"), "int", maximum=1000,
               optional=True),
     FieldSpec("late_cancellation_fee", N_("Late-cancellation fee (empty: none)"),
               default="", max_length=14)),
    lambda r, _l: str(r["name"]), late_fee_problem, creatable=False, removable=False,
    to_form=late_fee_form, to_api=late_fee_api)

WEEKLY_SCHEDULES = RecordKind(
    "weekly_schedules", f"{ADMIN}/weekly-schedules", N_("Weekly schedules"),
    N_("When each provider works, per weekday and clinic, in the clinic's local time, "
       "with breaks and optional first and last valid days."),
    (FieldSpec("provider_id", N_("Provider"), "choice", lookup="providers", required=True),
     CLINIC,
     FieldSpec("weekday", N_("Weekday"), "choice", options=WEEKDAYS, default=0),
     FieldSpec("start", N_("From"), "time", default="09:00"),
     FieldSpec("end", N_("Until"), "time", default="17:00"),
     FieldSpec("breaks", N_("Breaks"), "breaks", default=[]),
     FieldSpec("valid_from", N_("First valid day"), "day"),
     FieldSpec("valid_until", N_("Last valid day"), "day")),
    lambda r, lk: _("{provider} · {weekday} {start}-{end}").format(
        provider=name_of(lk, "providers", r["provider_id"]),
        weekday=_(dict(WEEKDAYS)[int(r["weekday"])]), start=str(r["start"])[:5],
        end=str(r["end"])[:5]),
    _schedule_problem, permission=CONFIGURE, lookups=("providers", "clinics"))

SLOT_TEMPLATES = RecordKind(
    "slot_templates", f"{ADMIN}/slot-templates", N_("Slot templates"),
    N_("Named slots of a provider's week, such as “New patient 09:00-10:00”. A booking "
       "made into one records it, and free times can be shown for one slot template."),
    (FieldSpec("name", N_("Name"), required=True),
     FieldSpec("provider_id", N_("Provider"), "choice", lookup="providers", required=True),
     CLINIC,
     FieldSpec("weekday", N_("Weekday"), "choice", options=WEEKDAYS, default=0),
     FieldSpec("start", N_("From"), "time", default="09:00"),
     FieldSpec("end", N_("Until"), "time", default="10:00"),
     FieldSpec("appointment_type_id", N_("Appointment type"), "choice",
               lookup="appointment_types", optional=True)),
    lambda r, lk: _("{name} · {provider} · {weekday} {start}-{end}").format(
        name=r["name"], provider=name_of(lk, "providers", r["provider_id"]),
        weekday=_(dict(WEEKDAYS)[int(r["weekday"])]), start=str(r["start"])[:5],
        end=str(r["end"])[:5]),
    _range_problem, permission=CONFIGURE, lookups=("providers", "clinics", "appointment_types"))

TIME_OFF = RecordKind(
    "time_off", f"{ADMIN}/schedule-exceptions", N_("Time off and extra hours"),
    N_("Dated exceptions to a provider's weekly schedule: time off (no bookings) or extra "
       "working hours."),
    (FieldSpec("provider_id", N_("Provider"), "choice", lookup="providers", required=True),
     CLINIC,
     FieldSpec("kind", N_("Kind"), "choice", default="time_off",
               options=(("time_off", N_("Time off")), ("extra_hours", N_("Extra hours")))),
     *PERIOD),
    lambda r, lk: f"{name_of(lk, 'providers', r['provider_id'])} · {str(r['start'])[:16]}",
    _range_problem, lookups=("providers", "clinics"))

HOLIDAYS = RecordKind(
    "holidays", f"{ADMIN}/holidays", N_("Holidays"),
    N_("Days a clinic is closed. A holiday on a day with booked appointments is refused "
       "with the list of them, unless you tick “keep booked appointments”."),
    (CLINIC,
     FieldSpec("day", N_("Day"), "day", required=True),
     FieldSpec("name", N_("Name"), default=""),
     FieldSpec("keep_appointments", N_("Keep booked appointments"), "bool", default=False)),
    lambda r, lk: f"{r['day']} · {r['name'] or name_of(lk, 'clinics', r['clinic_id'])}",
    lookups=("clinics",))

BLOCKOUTS = RecordKind(
    "blockouts", f"{ADMIN}/blockouts", N_("Blockouts"),
    N_("Periods when a provider, room or the whole clinic takes no bookings (also "
       "created by right-clicking an empty slot in the agenda)."),
    (CLINIC,
     FieldSpec("resource_id", N_("Provider or room"), "choice", lookup="resources",
               optional=True),
     *PERIOD),
    lambda r, lk: f"{str(r['start'])[:16]} · {name_of(lk, 'resources', r['resource_id'])}",
    _range_problem, lookups=("clinics", "resources"))

QUOTAS = RecordKind(
    "quotas", f"{ADMIN}/quotas", N_("Quotas"),
    N_("At most so many bookings per day or week at a clinic, optionally per provider, "
       "appointment type or department."),
    (CLINIC,
     FieldSpec("period", N_("Per"), "choice", default="day",
               options=(("day", N_("day")), ("week", N_("week")))),
     FieldSpec("max_count", N_("At most"), "int", maximum=100_000, default=10),
     FieldSpec("provider_id", N_("Provider"), "choice", lookup="providers", optional=True),
     FieldSpec("appointment_type_id", N_("Appointment type"), "choice",
               lookup="appointment_types", optional=True),
     DEPARTMENT),
    lambda r, lk: _("{count} per {period} · {clinic}").format(
        count=r["max_count"], period=_(r["period"]),
        clinic=name_of(lk, "clinics", r["clinic_id"])),
    lookups=("clinics", "providers", "appointment_types", "departments"))

DEPARTMENTS = RecordKind(
    "departments", f"{ADMIN}/departments", N_("Departments"),
    N_("Departments of a clinic. Providers, rooms and users belong to departments; a user "
       "whose role is limited to their departments sees and books only theirs."),
    (CLINIC, FieldSpec("name", N_("Name"), required=True)),
    lambda r, lk: f"{r['name']} · {name_of(lk, 'clinics', r['clinic_id'])}",
    lookups=("clinics",))

USERS_KIND = RecordKind(
    "users", f"{ADMIN}/users", N_("Users"),
    N_("Who may sign in and with which roles. The e-mail and first password are set when "
       "the account is made; the last user who manages users cannot lose that right."),
    (FieldSpec("email", N_("E-mail"), required=True, create_only=True, max_length=320),
     FieldSpec("display_name", N_("Name"), default="", max_length=100),
     FieldSpec("password", N_("First password"), "password", required=True,
               create_only=True, max_length=1024),
     FieldSpec("roles", N_("Roles"), "many", lookup="roles", default=[]),
     FieldSpec("department_ids", N_("Departments"), "many", lookup="departments",
               default=[]),
     FieldSpec("active", N_("Active"), "bool", default=True, update_only=True)),
    lambda r, _l: f"{r['email']} · {', '.join(r['roles'])}"
                  + (" · " + _("two-step") if r.get("mfa_enrolled") else ""),
    removable=False, permission=USERS, lookups=("roles", "departments"))

ROLES = RecordKind(
    "roles", f"{ADMIN}/roles", N_("Roles"),
    N_("A role is a set of permissions. Tick “requires two-step sign-in” to make its "
       "users enrol an authenticator app."),
    (FieldSpec("name", N_("Name"), required=True, create_only=True, max_length=64),
     FieldSpec("permissions", N_("Permissions"), "many", lookup="permissions", default=[]),
     FieldSpec("mfa_required", N_("Requires two-step sign-in"), "bool", default=False),
     FieldSpec("department_scoped", N_("Only in the user's departments"), "bool",
               default=False)),
    lambda r, _l: f"{r['name']} · {len(r['permissions'])}"
                  + (" · " + _("two-step") if r.get("mfa_required") else "")
                  + (" · " + _("by department") if r.get("department_scoped") else ""),
    removable=False, permission=USERS, lookups=("permissions",))

WIDGET_SITES = RecordKind(
    "widget_sites", "/api/v1/portal/widget-sites", N_("Website widget"),
    N_("The websites that may show the online booking widget, as https://www.example.org "
       "(docs/portal.md has the snippet to paste). With none, it shows on no site."),
    (FieldSpec("site", N_("Website"), required=True, max_length=200),),
    lambda r, _l: str(r["site"]))

#: The Administration menu's screens, in its order.
ALL_KINDS = (CLINICS, DEPARTMENTS, PROVIDERS, ROOMS, APPOINTMENT_TYPES, BOOKING_POLICIES,
             WEEKLY_SCHEDULES, SLOT_TEMPLATES, TIME_OFF, HOLIDAYS, BLOCKOUTS, QUOTAS,
             HANDOFF_CLIENTS, WIDGET_SITES, CONSENT_FORMS, USERS_KIND,
             ROLES)


def lookup_lists(records: dict[str, list[Record]]) -> dict[str, list[tuple[str, str]]]:
    """The choice lists from the server's records (by admin path name)."""
    resources = records.get("resources", [])

    def named(items: list[Record], key: str = "id") -> list[tuple[str, str]]:
        return sorted(((str(r[key]), str(r.get("name") or r.get("email") or r[key]))
                       for r in items), key=lambda pair: pair[1].casefold())

    return {
        "clinics": named(records.get("clinics", [])),
        "departments": named(records.get("departments", [])),
        "providers": named([r for r in resources if r.get("kind") == "provider"]),
        "resources": named([r for r in resources if r.get("kind") in ("provider", "room")]),
        "appointment_types": named(records.get("appointment-types", [])),
        "users": named(records.get("users", [])),
        "roles": named(records.get("roles", []), key="name"),
        "permissions": [(str(p), str(p)) for p in records.get("permissions", [])],
    }
