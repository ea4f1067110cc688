"""Late cancellations (seed 003): recorded, flagged late, a fee per the clinic's policy.

A cancellation is late when it is made inside the appointment type's
cancellation period before the start. The flag is derived from what every store
already keeps (the status, the time of the last status step, the type), so the
desk and the server agree without another column.
"""

from __future__ import annotations

from datetime import datetime

from scheduling.model import Appointment, AppointmentStatus, AppointmentType
from scheduling.refusals import N_

#: Why an appointment was cancelled, as front desks record it (with free text).
CANCEL_CATEGORIES: tuple[str, ...] = (
    "patient_request", "illness", "scheduling_conflict", "provider_unavailable",
    "no_transport", "weather", "clinic_closure", "other",
)
#: The label of each category (msgids; the desk translates them).
CANCEL_CATEGORY_LABELS: dict[str, str] = {
    "patient_request": N_("Patient request"),
    "illness": N_("Illness"),
    "scheduling_conflict": N_("Scheduling conflict"),
    "provider_unavailable": N_("Provider unavailable"),
    "no_transport": N_("No transport"),
    "weather": N_("Weather"),
    "clinic_closure": N_("Clinic closure"),
    "other": N_("Other"),
}


def is_late(start: datetime, cancelled_at: datetime, kind: AppointmentType) -> bool:
    """Whether cancelling an appointment starting at ``start`` at ``cancelled_at`` is late."""
    return cancelled_at < start < cancelled_at + kind.cancellation_period


def was_cancelled_late(appointment: Appointment, kind: AppointmentType | None) -> bool:
    """Whether ``appointment`` is a cancellation recorded inside its type's period."""
    change = appointment.last_status_change
    return (kind is not None and change is not None
            and appointment.status is AppointmentStatus.CANCELLED
            and change.previous.occupies_time
            and is_late(appointment.start, change.at, kind))


__all__ = ["CANCEL_CATEGORIES", "CANCEL_CATEGORY_LABELS", "is_late", "was_cancelled_late"]
