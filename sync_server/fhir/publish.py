"""Free slots published per SMART Scheduling Links (``$bulk-publish``), as FHIR R4.

What is published, per organization: its active clinics (``Location``), one
``Schedule`` per clinic × online-bookable type × provider who can give it, and that
schedule's ``Slot`` resources over the next :data:`PUBLISH_DAYS` local days of the
clinic. Free slots are exactly the scheduling core's availability
(:func:`sync_server.services.calendar.free_view.free_slots_between`, the predicate the
booking rules use). Each free slot carries the IG's ``booking-deep-link`` (the
portal's booking page, :func:`deep_link`) and ``booking-phone`` (the clinic's phone
from the notification settings). Nothing about patients is published: a slot that
stops being free is published as ``busy-unavailable``, whatever the reason.

Incremental fetches (``_since``): each refresh compares the free slots with what
was published before (``fhir_slot_states``) and stamps what changed with the
refresh's time; ``Slot`` files asked with ``_since`` hold the slots changed after
it. The manifest's ``transactionTime`` is the time of the last change (slots,
locations or schedules), so it and its ETag stay the same while nothing changes.
Location and Schedule files are always complete (they are small).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from scheduling import model
from sync_server.db import models as db
from sync_server.fhir.models import FhirPublication, FhirSlotState
from sync_server.notifications.policy import policy_of
from sync_server.services.calendar import kept_config
from sync_server.services.calendar.free_view import free_slots_between

PUBLISH_DAYS = 28
#: Where a published slot's deep link leads: the portal's booking page of the organization.
PORTAL_BOOK_PATH = "/portal/{org}/book"
DEEP_LINK_URL = "http://fhir-registry.smarthealthit.org/StructureDefinition/booking-deep-link"
BOOKING_PHONE_URL = "http://fhir-registry.smarthealthit.org/StructureDefinition/booking-phone"
TYPE_SYSTEM = "urn:clinicdesk:appointment-type"
#: How long published busy slots are kept for ``_since`` readers after they ended.
KEEP_PAST = timedelta(days=2)
NDJSON = "application/fhir+ndjson"


@dataclass(frozen=True, slots=True)
class ScheduleKey:
    clinic_id: str
    type_id: str
    provider_id: str
    #: Opaque and stable: derived from the three ids (FHIR ids are at most 64 characters).
    id: str = field(init=False)

    def __post_init__(self) -> None:
        text = f"{self.clinic_id}|{self.type_id}|{self.provider_id}"
        object.__setattr__(self, "id", "s" + hashlib.sha256(text.encode()).hexdigest()[:31])


@dataclass(frozen=True, slots=True)
class FreeSlot:
    schedule: ScheduleKey
    start: datetime
    end: datetime
    id: str = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "id",
                           f"{self.schedule.id}.{self.start.astimezone(UTC):%Y%m%dT%H%MZ}")


@dataclass(frozen=True, slots=True)
class Published:
    """One refresh's view: what the files hold, and the manifest's time."""

    organization: db.Organization
    locations: list[dict[str, Any]]
    schedules: list[dict[str, Any]]
    schedule_keys: list[ScheduleKey]
    free: list[FreeSlot]
    transaction_time: datetime
    phone: str


def instant(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def organization_by_ref(session: Session, ref: str) -> db.Organization | None:
    """The organization a public URL names (its slug)."""
    if not ref or len(ref) > 64 or not ref.isascii() or not ref.isprintable():
        return None
    return session.scalars(select(db.Organization).where(db.Organization.slug == ref)).first()


def deep_link(base_url: str, org_slug: str, slot: FreeSlot) -> str:
    """The portal page that books ``slot`` (the client adds ``state`` and ``returnUrl``)."""
    path = PORTAL_BOOK_PATH.format(org=org_slug)
    query = urlencode({"clinic": slot.schedule.clinic_id, "type": slot.schedule.type_id,
                       "provider": slot.schedule.provider_id, "start": instant(slot.start),
                       "slot": slot.id})
    return f"{base_url.rstrip('/')}{path}?{query}"


# --------------------------------------------------------------------------- what is offered


@dataclass(frozen=True, slots=True)
class Offer:
    clinic: db.Clinic
    kind: model.AppointmentType
    providers: tuple[model.Resource, ...]


def offers(session: Session, org_id: str) -> list[Offer]:
    """Each active clinic's online-bookable active types and the providers who give them."""
    found: list[Offer] = []
    active_types = set(session.scalars(select(db.AppointmentType.id).where(
        db.AppointmentType.organization_id == org_id, db.AppointmentType.active.is_(True),
        db.AppointmentType.online_bookable.is_(True))))
    clinics = session.scalars(select(db.Clinic).where(
        db.Clinic.organization_id == org_id, db.Clinic.active.is_(True)).order_by(db.Clinic.id))
    for clinic in clinics:
        config = kept_config(session, org_id, clinic.id, ())
        providers = sorted((r for r in config.resources
                            if r.kind is model.ResourceKind.PROVIDER and r.active
                            and clinic.id in r.clinic_ids), key=lambda r: r.id)
        for kind in sorted(config.appointment_types, key=lambda t: t.id):
            if not (kind.online_bookable and kind.id in active_types):
                continue
            able = tuple(p for p in providers
                         if not kind.requirement.providers or p.id in kind.requirement.providers)
            if able:
                found.append(Offer(clinic, kind, able))
    return found


def publish_window(clinic: db.Clinic, now: datetime) -> tuple[date, date]:
    first = now.astimezone(ZoneInfo(clinic.time_zone)).date()
    return first, first + timedelta(days=PUBLISH_DAYS - 1)


def free_of(session: Session, org_id: str, offer: Offer, now: datetime) -> list[FreeSlot]:
    first, last = publish_window(offer.clinic, now)
    found = free_slots_between(session, org_id, offer.clinic.id, offer.kind.id, first, last,
                               tuple(p.id for p in offer.providers), now) or []
    keys = {p.id: ScheduleKey(offer.clinic.id, offer.kind.id, p.id) for p in offer.providers}
    slots = (FreeSlot(keys[s.provider_id], s.start, s.end)
             for s in found)  # one per provider and start, whichever room it would take
    return list({slot.id: slot for slot in slots}.values())


# --------------------------------------------------------------------------- resources


def location_resource(clinic: db.Clinic, phone: str) -> dict[str, Any]:
    resource: dict[str, Any] = {"resourceType": "Location", "id": clinic.id,
                                "status": "active" if clinic.active else "inactive",
                                "name": clinic.name, "mode": "instance"}
    if phone:
        resource["telecom"] = [{"system": "phone", "value": phone}]
    if clinic.address:
        resource["address"] = {"text": clinic.address}
    if clinic.opening_hours:
        resource["description"] = clinic.opening_hours
    return resource


def schedule_resource(key: ScheduleKey, type_name: str) -> dict[str, Any]:
    return {
        "resourceType": "Schedule", "id": key.id, "active": True,
        "serviceType": [{"coding": [{"system": TYPE_SYSTEM, "code": key.type_id,
                                     "display": type_name}], "text": type_name}],
        "actor": [{"reference": f"Location/{key.clinic_id}"},
                  {"reference": f"Practitioner/{key.provider_id}"}],
    }


def slot_resource(slot_id: str, schedule_id: str, status: str, start: datetime,
                  end: datetime, extensions: list[dict[str, Any]] | None = None
                  ) -> dict[str, Any]:
    resource: dict[str, Any] = {"resourceType": "Slot", "id": slot_id,
                                "schedule": {"reference": f"Schedule/{schedule_id}"},
                                "status": status, "start": instant(start), "end": instant(end)}
    if extensions:
        resource["extension"] = extensions
    return resource


def free_slot_resource(slot: FreeSlot, base_url: str, org_slug: str,
                       phone: str) -> dict[str, Any]:
    extensions = [{"url": DEEP_LINK_URL, "valueUrl": deep_link(base_url, org_slug, slot)}]
    if phone:
        extensions.append({"url": BOOKING_PHONE_URL, "valueString": phone})
    return slot_resource(slot.id, slot.schedule.id, "free", slot.start, slot.end, extensions)


def ndjson(resources: Iterable[dict[str, Any]]) -> bytes:
    return b"".join(json.dumps(r, separators=(",", ":"), ensure_ascii=False).encode() + b"\n"
                    for r in resources)


# --------------------------------------------------------------------------- refreshing


def refresh(session: Session, organization: db.Organization, now: datetime, *,
            with_slots: bool = True) -> Published:
    """Compute what is published now and record what changed since the last refresh
    (the caller commits). Refreshes of one organization run one at a time. Without
    slots: the locations and schedules only, nothing written."""
    org_id = organization.id
    publication = session.get(FhirPublication, org_id, with_for_update=with_slots)
    if publication is None and not with_slots:
        publication = FhirPublication(organization_id=org_id, changed_at=now, digest="")
    elif publication is None:
        publication = FhirPublication(organization_id=org_id, changed_at=now, digest="")
        session.add(publication)
        session.flush()
    phone = policy_of(session, org_id).clinic_phone
    found = offers(session, org_id)
    free: list[FreeSlot] = []
    keys: list[ScheduleKey] = []
    schedules: list[dict[str, Any]] = []
    clinics: dict[str, db.Clinic] = {}
    for offer in found:
        clinics[offer.clinic.id] = offer.clinic
        for provider in offer.providers:
            key = ScheduleKey(offer.clinic.id, offer.kind.id, provider.id)
            keys.append(key)
            schedules.append(schedule_resource(key, offer.kind.name))
        if with_slots:
            free.extend(free_of(session, org_id, offer, now))
    locations = [location_resource(c, phone) for c in clinics.values()]
    if not with_slots:
        return Published(organization, locations, schedules, keys, [], publication.changed_at,
                         phone)
    changed = _record_slots(session, org_id, free, now)
    digest = hashlib.sha256(ndjson(locations) + ndjson(schedules) + phone.encode()).hexdigest()
    if changed or digest != publication.digest:
        publication.changed_at, publication.digest = now, digest
    session.flush()
    free.sort(key=lambda s: (s.start, s.id))
    return Published(organization, locations, schedules, keys, free, publication.changed_at,
                     phone)


def _record_slots(session: Session, org_id: str, free: list[FreeSlot], now: datetime) -> bool:
    """Update ``fhir_slot_states`` to the free slots; True when anything changed."""
    known = {row.id: row for row in session.scalars(
        select(FhirSlotState).where(FhirSlotState.organization_id == org_id))}
    changed = False
    free_ids = set()
    for slot in free:
        free_ids.add(slot.id)
        row = known.get(slot.id)
        if row is None:
            session.add(FhirSlotState(id=slot.id, organization_id=org_id,
                                      schedule_id=slot.schedule.id, start_at=slot.start,
                                      end_at=slot.end, status="free", changed_at=now))
            changed = True
        elif row.status != "free":
            row.status, row.changed_at = "free", now
            changed = True
    for slot_id, row in known.items():
        if row.end_at < now - KEEP_PAST:
            session.delete(row)
        elif slot_id not in free_ids and row.status == "free":
            row.status, row.changed_at = "busy-unavailable", now
            changed = True
    return changed


def slot_resources(session: Session, published: Published, base_url: str,
                   since: datetime | None) -> list[dict[str, Any]]:
    """The Slot file: every free slot and the known unavailable ones still ahead, or with
    ``since`` the slots whose status changed after it."""
    org = published.organization
    rows = session.scalars(select(FhirSlotState).where(
        FhirSlotState.organization_id == org.id,
        *((FhirSlotState.changed_at > since,) if since is not None else
          (FhirSlotState.status != "free",)),
    ).order_by(FhirSlotState.start_at, FhirSlotState.id))
    by_id = {s.id: s for s in published.free}
    out: list[dict[str, Any]] = []
    if since is None:
        out = [free_slot_resource(s, base_url, org.slug, published.phone)
               for s in published.free]
    for row in rows:
        slot = by_id.get(row.id)
        if row.status == "free" and slot is not None:
            out.append(free_slot_resource(slot, base_url, org.slug, published.phone))
        elif row.status != "free":
            out.append(slot_resource(row.id, row.schedule_id, row.status, row.start_at,
                                     row.end_at))
    if since is None:
        out.sort(key=lambda r: (r["start"], r["id"]))
    return out
