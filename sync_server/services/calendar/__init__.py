"""Database rows ↔ domain records, and the calendar state one booking transaction needs.

The rules engine judges a :class:`scheduling.state.CalendarState`; the server builds
one per transaction, limited to what the rules can look at (see :mod:`.state`).

Where each part lives: :mod:`.rows` (row mapping), :mod:`.state` (state loading),
:mod:`.config_cache` (the configuration kept between requests), :mod:`.next_available`,
:mod:`.queries` (the statements they read with).
"""

from __future__ import annotations

from sync_server.services.calendar.config_cache import Config, config_version, kept_config
from sync_server.services.calendar.next_available import (
    NEXT_AVAILABLE_FIRST_STEP,
    next_available_in_windows,
)
from sync_server.services.calendar.rows import (
    appointment_record,
    appointment_type_record,
    appointment_values,
    blockout_record,
    clinic_record,
    exception_record,
    outage_record,
    patient_record,
    quota_record,
    resource_record,
    schedule_record,
    series_record,
    slot_template_record,
    waitlist_record,
    write_appointment,
    write_series,
)
from sync_server.services.calendar.state import (
    Scope,
    add_appointments,
    clinic_zone,
    config_version_and_longest_block,
    load_state,
    read_longest_block,
)

__all__ = [
    "NEXT_AVAILABLE_FIRST_STEP",
    "Config",
    "Scope",
    "add_appointments",
    "appointment_record",
    "appointment_type_record",
    "appointment_values",
    "blockout_record",
    "clinic_record",
    "clinic_zone",
    "config_version",
    "config_version_and_longest_block",
    "exception_record",
    "kept_config",
    "load_state",
    "next_available_in_windows",
    "outage_record",
    "patient_record",
    "quota_record",
    "read_longest_block",
    "resource_record",
    "schedule_record",
    "series_record",
    "slot_template_record",
    "waitlist_record",
    "write_appointment",
    "write_series",
]
