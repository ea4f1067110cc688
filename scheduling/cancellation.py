"""Late cancellations (seed 003): recorded, flagged late, a fee per the clinic's policy.

A cancellation is late when it is made inside the appointment type's
cancellation period before the start. The flag is derived from what every store
already keeps (the status, the time of the last status step, the type), so the
desk and the server agree without another column.
"""

from __future__ import annotations

from datetime import datetime

from scheduling.model import Appointment, AppointmentStatus, AppointmentType


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


__all__ = ["is_late", "was_cancelled_late"]
