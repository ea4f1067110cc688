"""What the screens need to know about a clinic: its zone and locale, types, providers, rooms.

A read-only query over the desk services' optimistic calendar
(:func:`desktop.services.calendar.load_state`) returning small frozen values,
so no screen holds a session or a domain row. Loaded when a screen opens or
refreshes; configuration is a few dozen rows, so this is cheap. A department-scoped
user is offered only their departments' and shared providers, rooms and equipment
(:mod:`desktop.services.departments`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from desktop.services import departments
from desktop.services.calendar import Window, load_state
from desktop.services.context import DeskContext, require
from desktop.services.display_language import display_language
from scheduling.commands import Permission
from scheduling.model import ResourceKind


@dataclass(frozen=True, slots=True)
class TypeInfo:
    """An appointment type as the booking dialog offers it (durations in minutes)."""

    id: str
    name: str
    default_minutes: int
    min_minutes: int
    max_minutes: int
    color: str
    provider_ids: frozenset[str] = frozenset()  # empty: any provider
    room_ids: frozenset[str] = frozenset()  # empty: no room needed


@dataclass(frozen=True, slots=True)
class ResourceInfo:
    id: str
    name: str


@dataclass(frozen=True, slots=True)
class ClinicReference:
    clinic_id: str
    name: str
    time_zone: str
    locale: str
    types: tuple[TypeInfo, ...]
    providers: tuple[ResourceInfo, ...]
    rooms: tuple[ResourceInfo, ...]
    #: Display names of every id a message may carry (clinic, types, resources).
    names: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    equipment: tuple[ResourceInfo, ...] = ()

    def type_info(self, type_id: str) -> TypeInfo | None:
        return next((t for t in self.types if t.id == type_id), None)


def load_reference(ctx: DeskContext, clinic_id: str) -> ClinicReference:
    """The clinic's configuration; raises ``UnknownIdError`` for an unknown clinic."""
    user = require(ctx, Permission.VIEW_CALENDAR.value, "see the calendar")
    now = ctx.now()
    with ctx.store.session() as session:
        # An empty window: configuration only, no appointments, no patients.
        state = load_state(session, user.organization_id, Window(now, now), patient_ids=())
        hidden = departments.hidden_resources(session, user)
    clinic = state.clinic(clinic_id)
    names: dict[str, str] = {clinic.id: clinic.name}
    providers: list[ResourceInfo] = []
    rooms: list[ResourceInfo] = []
    equipment: list[ResourceInfo] = []
    for resource in sorted(state.resources.values(), key=lambda r: (r.name, r.id)):
        names[resource.id] = resource.name
        if (not resource.active or clinic_id not in resource.clinic_ids
                or resource.id in hidden):  # another department's: not offered
            continue
        if resource.kind is ResourceKind.PROVIDER:
            providers.append(ResourceInfo(resource.id, resource.name))
        elif resource.kind is ResourceKind.ROOM:
            rooms.append(ResourceInfo(resource.id, resource.name))
        else:
            equipment.append(ResourceInfo(resource.id, resource.name))
    types = []
    language = display_language()
    for kind in sorted(state.appointment_types.values(),
                       key=lambda t: (t.name_in(language), t.id)):
        names[kind.id] = kind.name_in(language)
        types.append(TypeInfo(
            kind.id, kind.name_in(language), _minutes(kind.default_duration.total_seconds()),
            _minutes(kind.min_duration.total_seconds()),
            _minutes(kind.max_duration.total_seconds()), kind.color,
            frozenset(kind.requirement.providers), frozenset(kind.requirement.rooms),
        ))
    return ClinicReference(clinic.id, clinic.name, clinic.time_zone, clinic.locale,
                           tuple(types), tuple(providers), tuple(rooms),
                           MappingProxyType(names), tuple(equipment))


def _minutes(seconds: float) -> int:
    return round(seconds / 60)
