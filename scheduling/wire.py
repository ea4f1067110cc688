"""The wire form of domain records: JSON-able dicts, the same on desk and server.

``to_wire(record)`` and ``from_wire(entity, data)`` convert every record of
:mod:`scheduling.model` by its type hints: instants as ISO-8601 UTC strings,
dates and times as ISO strings, durations as whole seconds, sets as sorted
lists, enums as their values, nested records as dicts. Pull payloads and
change-log entries use these forms, keyed by :data:`ENTITIES`.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from datetime import UTC, date, datetime, time, timedelta
from enum import Enum
from typing import Any

from scheduling import model
from scheduling.errors import SchedulingInputError
from scheduling.timeutil import require_aware

#: Entity name on the wire → record class.
ENTITIES: dict[str, type[Any]] = {
    "organization": model.Organization,
    "clinic": model.Clinic,
    "department": model.Department,
    "resource": model.Resource,
    "outage": model.Outage,
    "appointment_type": model.AppointmentType,
    "weekly_schedule": model.WeeklySchedule,
    "schedule_exception": model.ScheduleException,
    "holiday": model.Holiday,
    "blockout": model.Blockout,
    "quota": model.Quota,
    "patient": model.Patient,
    "appointment": model.Appointment,
    "series": model.Series,
    "waitlist_entry": model.WaitlistEntry,
}
ENTITY_OF: dict[type[Any], str] = {cls: name for name, cls in ENTITIES.items()}


class WireFormatError(SchedulingInputError):
    """A wire record is missing a field, has an unknown one, or a value of the wrong type."""


def to_wire(record: Any) -> dict[str, Any]:
    """The JSON-able form of a domain record."""
    hints = _hints(type(record))
    return {f.name: _encode(getattr(record, f.name), hints[f.name])
            for f in dataclasses.fields(record)}


def from_wire(entity: str, data: dict[str, Any]) -> Any:
    """Rebuild the record of ``entity`` from its wire form (strict: unknown fields refused)."""
    cls = ENTITIES.get(entity)
    if cls is None:
        raise WireFormatError(f"unknown entity {entity!r}")
    return _decode_record(cls, data, entity)


def entity_of(record: Any) -> str:
    return ENTITY_OF[type(record)]


# --------------------------------------------------------------------------- internals


_HINTS: dict[type[Any], dict[str, Any]] = {}


def _hints(cls: type[Any]) -> dict[str, Any]:
    hints = _HINTS.get(cls)
    if hints is None:
        hints = _HINTS[cls] = typing.get_type_hints(cls, vars(model))
    return hints


_PLAIN = frozenset({str, int, bool, float, type(None)})


def _encode(value: Any, hint: Any) -> Any:
    if type(value) in _PLAIN:  # most fields: ids, names, counts (exact types, not enums)
        return value
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, datetime):
        if value.tzinfo is None:
            return value.isoformat()  # a wall-clock time (series start, exdates)
        return require_aware(value).isoformat()
    if isinstance(value, date | time):
        return value.isoformat()
    if isinstance(value, timedelta):
        return int(value.total_seconds())
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return to_wire(value)
    if isinstance(value, frozenset | set):
        inner = _args(hint)[0] if _args(hint) else Any
        return sorted((_encode(v, inner) for v in value), key=repr)
    if isinstance(value, tuple | list):
        args = _args(hint)
        inner = args[0] if args else Any
        return [_encode(v, inner) for v in value]
    return value


def _args(hint: Any) -> tuple[Any, ...]:
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        for option in typing.get_args(hint):
            if option is not type(None):
                return _args(option) or (option,)
    return typing.get_args(hint)


def _decode_record(cls: type[Any], data: Any, where: str) -> Any:
    if not isinstance(data, dict):
        raise WireFormatError(f"{where}: expected an object")
    hints = _hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = set(data) - set(fields)
    if unknown:
        raise WireFormatError(f"{where}: unknown field(s) {', '.join(sorted(unknown))}")
    values: dict[str, Any] = {}
    for name, spec in fields.items():
        if name not in data:
            if (spec.default is dataclasses.MISSING
                    and spec.default_factory is dataclasses.MISSING):
                raise WireFormatError(f"{where}: missing field {name}")
            continue
        values[name] = _decode(data[name], hints[name], f"{where}.{name}")
    try:
        return cls(**values)
    except (TypeError, ValueError) as exc:
        raise WireFormatError(f"{where}: {exc}") from exc


def _decode(value: Any, hint: Any, where: str) -> Any:
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        options = [o for o in typing.get_args(hint) if o is not type(None)]
        if value is None:
            return None
        return _decode(value, options[0], where)
    if value is None:
        raise WireFormatError(f"{where}: may not be null")
    try:
        if hint is datetime:
            parsed = datetime.fromisoformat(value)
            return parsed.astimezone(UTC) if parsed.tzinfo else parsed
        if hint is date:
            return date.fromisoformat(value)
        if hint is time:
            return time.fromisoformat(value)
        if hint is timedelta:
            if not isinstance(value, int | float) or isinstance(value, bool):
                raise TypeError("expected seconds")
            return timedelta(seconds=value)
        if isinstance(hint, type) and issubclass(hint, Enum):
            return hint(value)
        if isinstance(hint, type) and dataclasses.is_dataclass(hint):
            return _decode_record(hint, value, where)
        if origin in (frozenset, set):
            return frozenset(_decode(v, typing.get_args(hint)[0], where) for v in value)
        if origin is tuple:
            args = typing.get_args(hint)
            if len(args) == 2 and args[1] is Ellipsis:
                return tuple(_decode(v, args[0], where) for v in value)
            return tuple(_decode(v, a, where) for v, a in zip(value, args, strict=True))
        if hint in (str, int, bool, float):
            if not isinstance(value, hint) or (hint is int and isinstance(value, bool)):
                raise TypeError(f"expected {hint.__name__}")
            return value
    except (TypeError, ValueError) as exc:
        raise WireFormatError(f"{where}: {exc}") from exc
    return value
