"""Administration API: an organization's configuration (``admin:config``), patients
(``patient:view`` / ``patient:edit``) and waitlist entries (``booking:create_appointment``).

Every kind of record gets the same thin routes, built by :func:`_record_routes`:
``POST`` (create, 201), ``GET`` (list), ``GET /{id}``, ``PATCH /{id}`` (changed
fields only; the record as it would become is validated again as a whole) and,
where a record can go, ``DELETE /{id}`` (204). Bodies refuse unknown fields;
instants must carry a UTC offset. The logic is in :mod:`sync_server.services.admin`.
"""

# No ``from __future__ import annotations`` here: the routes are built in a
# function, and FastAPI must see their body classes as objects, not names.

from collections.abc import Callable
from datetime import time
from typing import Annotated, Any, Literal, Optional

from fastapi import APIRouter, Depends, Query, Response, status
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    create_model,
)

from scheduling import limits
from scheduling.followups import MAX_FOLLOW_UP_DAYS, MAX_RECALL_MONTHS
from sync_server.api.deps import NowDep, SessionDep, require
from sync_server.api.fields import (
    Day,
    Email,
    Id,
    IdPath,
    Instant,
    InsuranceId,
    InsuranceProvider,
    Label,
    LicenceNumber,
    Name,
    Note,
    PersonName,
    Phone,
    Reason,
    text_check,
)
from sync_server.services import admin
from sync_server.services.accounts import Principal
from sync_server.services.errors import InvalidInput

router = APIRouter()

DAY_SECONDS = 86_400


def _wall_clock(value: time) -> time:
    if value.tzinfo is not None:
        raise ValueError("must be a local wall-clock time without a UTC offset")
    return value


WallClock = Annotated[time, AfterValidator(_wall_clock),
                      Field(description="Local wall-clock time, e.g. 09:00")]
Seconds = Annotated[int, Field(ge=0, le=366 * DAY_SECONDS)]
Duration = Annotated[int, Field(ge=60, le=DAY_SECONDS)]


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ClinicBody(Body):
    name: Name
    time_zone: Annotated[str, Field(min_length=1, max_length=64, examples=["Europe/Madrid"])]
    locale: Annotated[str, Field(pattern=r"^[a-z]{2,3}(_[A-Z]{2})?$")] = "en_US"
    active: bool = True
    address: Note = ""
    opening_hours: Label = Field("", description="As shown to people, e.g. Mon-Fri 08-18")


class DepartmentBody(Body):
    clinic_id: Id
    name: Name


class RestrictionBody(Body):
    requires_approval: bool = True
    min_lead_time_seconds: Seconds = 0


class ResourceBody(Body):
    kind: Literal["provider", "room", "equipment"]
    name: Name
    department_id: Id | None = None
    active: bool = True
    clinic_ids: Annotated[list[Id], Field(max_length=100)] = []
    restriction: RestrictionBody | None = Field(
        None, description="Set for a restricted resource (approval, minimum lead time)")
    specialty: Label = ""
    licence_number: LicenceNumber = ""
    user_id: Id | None = Field(
        None, description="A provider's own account (may manage its schedule: schedule:own)")
    color: Annotated[str, Field(pattern=r"^(#[0-9a-fA-F]{6})?$",
                                description="The agenda colour, #rrggbb; empty: none")] = ""


class OutageBody(Body):
    resource_id: Id
    start: Instant
    end: Instant
    reason: Reason = ""


class RequirementBody(Body):
    providers: Annotated[list[Id], Field(max_length=100)] = []
    rooms: Annotated[list[Id], Field(max_length=100)] = []
    equipment: Annotated[
        list[Annotated[list[Id], Field(max_length=100)]],
        Field(max_length=20, description="One free item of each group is needed"),
    ] = []


class AppointmentTypeBody(Body):
    name: Name
    default_duration_seconds: Duration
    min_duration_seconds: Duration
    max_duration_seconds: Duration
    buffer_before_seconds: Annotated[int, Field(ge=0, le=DAY_SECONDS)] = 0
    buffer_after_seconds: Annotated[int, Field(ge=0, le=DAY_SECONDS)] = 0
    requirement: RequirementBody = RequirementBody()
    capacity: Annotated[int, Field(ge=1, le=1000)] = 1
    online_bookable: bool = False
    telemedicine: bool = False
    min_notice_seconds: Seconds = 0
    max_days_ahead: Annotated[int, Field(ge=1, le=3660)] | None = None
    cancellation_period_seconds: Seconds = 0
    reschedule_limit: Annotated[int, Field(ge=0, le=1000)] | None = None
    color: Annotated[str, Field(pattern=r"^#[0-9a-fA-F]{6}$")] = "#4a90d9"
    active: bool = True
    names: Annotated[dict[Annotated[str, Field(pattern=r"^[a-z]{2}$")], Name],
                     Field(max_length=20, description="The name per language, e.g. "
                                                      '{"es": "Revisión"}')] = {}
    late_cancellation_fee_cents: Annotated[int, Field(
        ge=0, le=9_999_999_999,
        description="Booking policy: the fee of a cancellation inside the cancellation "
                    "period, in cents; null: no fee")] | None = None
    follow_up_days: Annotated[int, Field(ge=1, le=MAX_FOLLOW_UP_DAYS)] | None = Field(
        None, description="A completed visit asks for a follow-up within this many days")
    recall_months: Annotated[int, Field(ge=1, le=MAX_RECALL_MONTHS)] | None = Field(
        None, description="A completed visit asks for a recall this many months later")


class TimeRange(Body):
    start: WallClock
    end: WallClock


class WeeklyScheduleBody(Body):
    provider_id: Id
    clinic_id: Id
    weekday: Annotated[int, Field(ge=0, le=6, description="0 = Monday")]
    start: WallClock
    end: WallClock
    breaks: Annotated[list[TimeRange], Field(max_length=20)] = []
    valid_from: Day | None = None
    valid_until: Day | None = None


class SlotTemplateBody(Body):
    provider_id: Id
    clinic_id: Id
    weekday: Annotated[int, Field(ge=0, le=6, description="0 = Monday")]
    start: WallClock
    end: WallClock
    name: Name = Field(..., description='e.g. "New patient"')
    appointment_type_id: Id | None = Field(None, description="Left out: any type fits")


class ScheduleExceptionBody(Body):
    provider_id: Id
    clinic_id: Id
    kind: Literal["time_off", "extra_hours"]
    start: Instant
    end: Instant
    reason: Reason = ""


class HolidayBody(Body):
    clinic_id: Id
    day: Day
    name: Label = ""
    keep_appointments: bool = Field(
        False, description="Save even when appointments are booked that day (else 422 "
                           "listing them)")


class BlockoutBody(Body):
    clinic_id: Id
    resource_id: Id | None = Field(None, description="Left out: the whole clinic")
    start: Instant
    end: Instant
    reason: Reason = ""


class QuotaBody(Body):
    clinic_id: Id
    period: Literal["day", "week"]
    max_count: Annotated[int, Field(ge=0, le=100_000)]
    provider_id: Id | None = None
    appointment_type_id: Id | None = None
    department_id: Id | None = Field(
        None, description="Count only the providers of this department")


class PatientBody(Body):
    given_name: PersonName
    family_name: PersonName
    date_of_birth: Day | None = None
    phone: Phone = ""
    email: Email = ""
    address: Note = ""
    insurance_provider: InsuranceProvider = ""
    insurance_id: InsuranceId = ""
    preferred_language: Annotated[str, Field(pattern=r"^[a-z]{2,3}$")] = "en"
    active: bool = True
    contact_preference: Literal["email", "sms", "email_then_sms", "sms_then_email",
                                "none"] = "email_then_sms"
    reminders_opt_out: bool = False


class WaitlistEntryBody(Body):
    clinic_id: Id
    patient_id: Id
    appointment_type_id: Id
    priority: Annotated[int, Field(ge=-1000, le=1000)] = 0
    preferred_provider_ids: Annotated[list[Id], Field(max_length=50)] = []
    preferred_weekdays: Annotated[list[Annotated[int, Field(ge=0, le=6)]],
                                  Field(max_length=7)] = []
    preferred_times: Annotated[list[TimeRange], Field(max_length=20)] = []
    note: Note = ""
    active: bool = True


def _normalizer(body: type[Body]) -> admin.Normalize:
    """Validate a whole record (after a PATCH) with the create model; 422 when invalid."""

    def normalize(values: admin.Values) -> admin.Values:
        try:
            return body.model_validate(values).model_dump()
        except ValidationError as error:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in error.errors()[:5]
            )
            raise InvalidInput(f"The record would not be valid: {problems}") from None

    return normalize


def _record_routes(
    path: str,
    kind: admin.RecordType,
    body: type[Body],
    *,
    label: str,
    view: str,
    edit: str,
    tag: str,
    search: bool = False,
    also: tuple[str, ...] = (),
) -> None:
    """Register the create / list / read / update (/ delete) routes of one record type
    (``also``: other permissions that let a caller in, the service narrowing what they
    may touch)."""
    out = create_model(f"{body.__name__.removesuffix('Body')}Out",
                       __base__=body, id=(str, ...))
    optional: dict[str, Any] = {
        name: (Optional[field.annotation], None)  # noqa: UP045 - a runtime type object
        for name, field in body.model_fields.items()
    }
    patch = create_model(
        f"{body.__name__.removesuffix('Body')}Patch", __base__=Body, **optional
    )
    viewer = Depends(require(view, *also))
    editor = Depends(require(edit, *also))
    normalize = _normalizer(body)
    item_path = f"{path}/{{record_id}}"
    responses: dict[int | str, dict[str, Any]] = {
        404: {"description": f"No {label} with this id in your organization"},
        422: {"description": "The request is not valid"},
    }

    def create_record(request_body: Any, session: SessionDep, now: NowDep,
                      who: Annotated[Principal, editor]) -> admin.Values:
        return admin.create(session, who, kind, request_body.model_dump(), now)

    def list_records(
        session: SessionDep, who: Annotated[Principal, viewer],
        limit: Annotated[int, Query(ge=1, le=500)] = 100,
        offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
    ) -> list[admin.Values]:
        return admin.list_records(session, who, kind, limit=limit, offset=offset)

    def read_record(record_id: IdPath, session: SessionDep, now: NowDep,
                    who: Annotated[Principal, viewer]) -> admin.Values:
        return admin.read(session, who, kind, record_id, now)

    def update_record(record_id: IdPath, request_body: Any, session: SessionDep, now: NowDep,
                      who: Annotated[Principal, editor]) -> admin.Values:
        changes = request_body.model_dump(exclude_unset=True)
        return admin.update(session, who, kind, record_id, changes, normalize, now)

    def delete_record(record_id: IdPath, session: SessionDep, now: NowDep,
                      who: Annotated[Principal, editor]) -> Response:
        admin.remove(session, who, kind, record_id, now)
        return Response(status_code=status.HTTP_204_NO_CONTENT)

    # FastAPI reads the body type from the annotation; it differs per record type.
    create_record.__annotations__["request_body"] = body
    update_record.__annotations__["request_body"] = patch

    def add(endpoint: Callable[..., Any], method: str, route: str, summary: str,
            **options: Any) -> None:
        router.add_api_route(route, endpoint, methods=[method], summary=summary, tags=[tag],
                             name=f"{endpoint.__name__}_{kind.entity}", **options)

    add(create_record, "POST", path, f"Create a {label}", response_model=out,
        status_code=status.HTTP_201_CREATED, responses=responses)
    if search:
        add(_search_patients, "GET", path, f"Find {label}s by name or phone",
            response_model=list[out], responses=responses)  # type: ignore[valid-type]
    else:
        add(list_records, "GET", path, f"List {label}s", response_model=list[out],  # type: ignore[valid-type]
            responses=responses)
    add(read_record, "GET", item_path, f"Read a {label}", response_model=out,
        responses=responses)
    add(update_record, "PATCH", item_path, f"Change a {label}", response_model=out,
        responses=responses)
    if kind.removal != "none":
        what = "Delete" if kind.removal == "delete" else "Deactivate"
        add(delete_record, "DELETE", item_path, f"{what} a {label}",
            status_code=status.HTTP_204_NO_CONTENT, response_class=Response,
            responses=responses)


def _search_patients(
    session: SessionDep,
    now: NowDep,
    who: Annotated[Principal, Depends(require("patient:view"))],
    q: Annotated[str, Query(min_length=2, max_length=limits.PERSON_NAME,
                            description="Part of a name, or of a phone number"),
                 AfterValidator(text_check(limits.PERSON_NAME))],
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> list[admin.Values]:
    return admin.search_patients(session, who, q, now, limit=limit)


_CONFIG = "admin:config"
for _path, _kind, _body, _label in (
    ("/admin/clinics", admin.CLINIC, ClinicBody, "clinic"),
    ("/admin/departments", admin.DEPARTMENT, DepartmentBody, "department"),
    ("/admin/resources", admin.RESOURCE, ResourceBody, "resource"),
    ("/admin/outages", admin.OUTAGE, OutageBody, "resource outage"),
    ("/admin/appointment-types", admin.APPOINTMENT_TYPE, AppointmentTypeBody,
     "appointment type"),
    ("/admin/holidays", admin.HOLIDAY, HolidayBody, "holiday"),
    ("/admin/blockouts", admin.BLOCKOUT, BlockoutBody, "blockout"),
    ("/admin/quotas", admin.QUOTA, QuotaBody, "quota"),
):
    _record_routes(_path, _kind, _body, label=_label, view=_CONFIG, edit=_CONFIG, tag="admin")
# A provider's user with ``schedule:own`` manages that provider's schedule and time off.
_record_routes("/admin/weekly-schedules", admin.WEEKLY_SCHEDULE, WeeklyScheduleBody,
               label="weekly schedule", view=_CONFIG, edit=_CONFIG, tag="admin",
               also=(admin.OWN_SCHEDULE,))
_record_routes("/admin/slot-templates", admin.SLOT_TEMPLATE, SlotTemplateBody,
               label="slot template", view=_CONFIG, edit=_CONFIG, tag="admin",
               also=(admin.OWN_SCHEDULE,))
_record_routes("/admin/schedule-exceptions", admin.SCHEDULE_EXCEPTION, ScheduleExceptionBody,
               label="schedule exception", view=_CONFIG, edit=_CONFIG, tag="admin",
               also=(admin.OWN_SCHEDULE,))

_record_routes("/patients", admin.PATIENT, PatientBody, label="patient", view="patient:view",
               edit="patient:edit", tag="patients", search=True)
_record_routes("/waitlist", admin.WAITLIST_ENTRY, WaitlistEntryBody, label="waitlist entry",
               view="booking:create_appointment", edit="booking:create_appointment",
               tag="waitlist")
