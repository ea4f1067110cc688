"""FHIR R4 resources of the read API: Appointment and Practitioner (Location, Schedule and
Slot are the published ones, :mod:`sync_server.fhir.publish`), Bundle and OperationOutcome.

An Appointment says when, what type, which provider and clinic, and its status
(:data:`scheduling.status.FHIR_STATUS`, docs/domain.md); never the patient, notes or
reasons. A deleted appointment reads ``entered-in-error`` to the client whose hand-off
booked it (seed 004: a booking invalidated later); to anyone else it does not exist.
"""

from __future__ import annotations

import re
from typing import Any

from scheduling.model import AppointmentStatus
from scheduling.status import FHIR_STATUS
from sync_server.db import models as db
from sync_server.fhir.publish import TYPE_SYSTEM, instant

FHIR_JSON = "application/fhir+json"
#: FHIR's id syntax; a path id outside it names nothing here.
FHIR_ID = re.compile(r"[A-Za-z0-9\-.]{1,64}")


def fhir_id(record_id: str) -> str:
    """An appointment's FHIR id: series occurrences' ``<series>@<start>`` with ``.`` for
    ``@`` (FHIR ids allow letters, digits, ``-`` and ``.``; UUIDs hold no ``.``)."""
    return record_id.replace("@", ".")


def booking_ref(appointment_id: str) -> str:
    """The short reference a patient may read to the clinic (no PHI: part of the id)."""
    return "CD-" + appointment_id.replace("-", "")[:10].upper()


def record_id(fhir_id_: str) -> str | None:
    """The record id a FHIR id names, or None when it is not a FHIR id."""
    if not FHIR_ID.fullmatch(fhir_id_):
        return None
    return fhir_id_.replace(".", "@")
BOOKING_REF_SYSTEM = "urn:clinicdesk:booking-ref"


def appointment_resource(row: db.Appointment, type_name: str) -> dict[str, Any]:
    status = "entered-in-error" if row.deleted else FHIR_STATUS[AppointmentStatus(row.status)]
    minutes = int((row.end_at - row.start_at).total_seconds() // 60)
    resource: dict[str, Any] = {
        "resourceType": "Appointment", "id": fhir_id(row.id),
        "meta": {"lastUpdated": instant(row.updated_at)},
        "identifier": [{"system": BOOKING_REF_SYSTEM, "value": booking_ref(row.id)}],
        "status": status,
        "serviceType": [{"coding": [{"system": TYPE_SYSTEM, "code": row.appointment_type_id,
                                     "display": type_name}], "text": type_name}],
        "start": instant(row.start_at), "end": instant(row.end_at),
        "created": instant(row.created_at),
        "participant": [
            {"actor": {"reference": f"Practitioner/{row.provider_id}"}, "status": "accepted"},
            {"actor": {"reference": f"Location/{row.clinic_id}"}, "status": "accepted"},
        ],
    }
    if minutes > 0:
        resource["minutesDuration"] = minutes
    return resource


def practitioner_resource(row: db.Resource) -> dict[str, Any]:
    return {"resourceType": "Practitioner", "id": row.id, "active": bool(row.active),
            "name": [{"text": row.name}]}


def bundle(base: str, self_url: str, resources: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "resourceType": "Bundle", "type": "searchset", "total": len(resources),
        "link": [{"relation": "self", "url": self_url}],
        "entry": [{"fullUrl": f"{base}/{r['resourceType']}/{r['id']}", "resource": r,
                   "search": {"mode": "match"}} for r in resources],
    }


def operation_outcome(code: str, diagnostics: str) -> dict[str, Any]:
    """An error answer: FHIR issue ``code`` and a sentence (no PHI)."""
    return {"resourceType": "OperationOutcome",
            "issue": [{"severity": "error", "code": code, "diagnostics": diagnostics}]}
