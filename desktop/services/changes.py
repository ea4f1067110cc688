"""What a sync pass changed, in the terms the desk's views decide on.

A pull can bring thousands of records, most of them outside what the screen
shows. :class:`DataChanges` says which *days* (UTC calendar days, per clinic) and
which providers/rooms saw appointments come, move or go — both where they were
and where they are — which patients changed, and whether configuration (clinics,
resources, types, schedules, holidays, blockouts, outages, quotas) or the
waitlist did. A view compares it with what it shows and redraws only then.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

#: Wire entities whose change re-shapes the agenda's frame and reference data.
CONFIGURATION_ENTITIES = frozenset({
    "clinic", "resource", "appointment_type", "weekly_schedule", "schedule_exception",
    "holiday", "blockout", "outage", "quota", "slot_template",
})


@dataclass(frozen=True, slots=True)
class DataChanges:
    """See the module docstring. ``everything``: the extent is unknown (redraw all)."""

    days: frozenset[tuple[str, date]] = frozenset()
    resources: frozenset[str] = frozenset()
    patients: frozenset[str] = frozenset()
    configuration: bool = False
    waitlist: bool = False
    everything: bool = False

    @property
    def empty(self) -> bool:
        return not (self.days or self.patients or self.configuration or self.waitlist
                    or self.everything)

    def merged(self, other: DataChanges) -> DataChanges:
        return DataChanges(self.days | other.days, self.resources | other.resources,
                           self.patients | other.patients,
                           self.configuration or other.configuration,
                           self.waitlist or other.waitlist, self.everything or other.everything)

    def touches(self, clinic_id: str, start: datetime, end: datetime,
                patient_ids: Iterable[str] = ()) -> bool:
        """Whether a view of ``clinic_id`` over ``[start, end)`` (UTC) showing these
        patients' names must be redrawn."""
        if self.everything or self.configuration:
            return True
        if any((clinic_id, day) in self.days for day in utc_days(start, end)):
            return True
        return bool(self.patients) and not self.patients.isdisjoint(patient_ids)


EVERYTHING = DataChanges(everything=True)
NOTHING = DataChanges()


def utc_days(start: datetime, end: datetime) -> list[date]:
    """The UTC calendar days ``[start, end)`` touches (at least the day of ``start``)."""
    first, last = start.date(), max(start, end - timedelta(microseconds=1)).date()
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


class ChangeCollector:
    """Gathers :class:`DataChanges` while a pull page is applied."""

    def __init__(self) -> None:
        self._days: set[tuple[str, date]] = set()
        self._resources: set[str] = set()
        self._patients: set[str] = set()
        self._configuration = False
        self._waitlist = False

    def appointment(self, clinic_id: str | None, start: datetime | None, end: datetime | None,
                    resource_ids: Iterable[str | None]) -> None:
        """An appointment was (or now is) at ``clinic_id`` over ``[start, end)``."""
        if clinic_id is None or start is None or end is None:
            return
        self._days.update((clinic_id, day) for day in utc_days(start, end))
        self._resources.update(r for r in resource_ids if r)

    def entity(self, entity: str, record_id: str) -> None:
        """Any other record changed."""
        if entity == "patient":
            self._patients.add(record_id)
        elif entity == "waitlist_entry":
            self._waitlist = True
        elif entity in CONFIGURATION_ENTITIES:
            self._configuration = True

    def result(self) -> DataChanges:
        return DataChanges(frozenset(self._days), frozenset(self._resources),
                           frozenset(self._patients), self._configuration, self._waitlist)


__all__ = ["CONFIGURATION_ENTITIES", "EVERYTHING", "NOTHING", "ChangeCollector", "DataChanges",
           "utc_days"]
