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
    "slot_template": model.SlotTemplate,
    "waitlist_entry": model.WaitlistEntry,
}
ENTITY_OF: dict[type[Any], str] = {cls: name for name, cls in ENTITIES.items()}


class WireFormatError(SchedulingInputError):
    """A wire record is missing a field, has an unknown one, or a value of the wrong type."""


def to_wire(record: Any) -> dict[str, Any]:
    """The JSON-able form of a domain record."""
    return {name: value if hint is None or type(value) in _PLAIN else _encode(value, hint)
            for name, hint in _encoding_plan(type(record))
            for value in (getattr(record, name),)}


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
#: Types whose values are JSON-able as they are.
_PLAIN = frozenset({str, int, bool, float, type(None)})
_ENCODING_PLANS: dict[type[Any], list[tuple[str, Any]]] = {}


def _encoding_plan(cls: type[Any]) -> list[tuple[str, Any]]:
    """Per record class, built once: (field, type hint), the hint ``None`` where every
    value the field may hold is already JSON-able as it is (text, numbers, null)."""
    plan = _ENCODING_PLANS.get(cls)
    if plan is None:
        hints = _hints(cls)
        plan = _ENCODING_PLANS[cls] = [
            (f.name, None if _is_plain(hints[f.name]) else hints[f.name])
            for f in dataclasses.fields(cls)]
    return plan


def _is_plain(hint: Any) -> bool:
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        return all(_is_plain(option) for option in typing.get_args(hint))
    return hint in _PLAIN


def _hints(cls: type[Any]) -> dict[str, Any]:
    hints = _HINTS.get(cls)
    if hints is None:
        hints = _HINTS[cls] = typing.get_type_hints(cls, vars(model))
    return hints


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
    names, fields = _plan(cls)
    if not names.issuperset(data):
        unknown = set(data) - names
        raise WireFormatError(f"{where}: unknown field(s) {', '.join(sorted(unknown))}")
    values: dict[str, Any] = {}
    for name, required, decode in fields:
        value = data.get(name, _ABSENT)
        if value is _ABSENT:
            if required:
                raise WireFormatError(f"{where}: missing field {name}")
            continue
        try:
            values[name] = decode(value, where, name)
        except WireFormatError:
            raise
        except (TypeError, ValueError) as exc:
            raise WireFormatError(f"{where}.{name}: {exc}") from exc
    try:
        return cls(**values)
    except (TypeError, ValueError) as exc:
        raise WireFormatError(f"{where}: {exc}") from exc


#: Decodes one field's value: (value, where, field name) → the domain value. Raises
#: TypeError/ValueError (reported as ``where.name``) or WireFormatError (already placed).
_Decoder = typing.Callable[[Any, str, str], Any]
_ABSENT = object()
_PLANS: dict[type[Any], tuple[frozenset[str], list[tuple[str, bool, _Decoder]]]] = {}


def _plan(cls: type[Any]) -> tuple[frozenset[str], list[tuple[str, bool, _Decoder]]]:
    """Per record class, built once: its field names and, per field, whether it is
    required and its decoder."""
    plan = _PLANS.get(cls)
    if plan is None:
        hints = _hints(cls)
        fields = dataclasses.fields(cls)
        plan = _PLANS[cls] = (frozenset(f.name for f in fields), [
            (f.name, f.default is dataclasses.MISSING
             and f.default_factory is dataclasses.MISSING, _decoder(hints[f.name]))
            for f in fields])
    return plan


def _decoder(hint: Any) -> _Decoder:
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        inner = _decoder(next(o for o in typing.get_args(hint) if o is not type(None)))
        return lambda value, where, name: None if value is None else inner(value, where, name)
    decode = _not_null(hint, origin)

    def required(value: Any, where: str, name: str) -> Any:
        if value is None:
            raise WireFormatError(f"{where}.{name}: may not be null")
        return decode(value, where, name)

    return required


def _not_null(hint: Any, origin: Any) -> _Decoder:
    if hint in (str, int, bool, float):
        def plain(value: Any, _where: str, _name: str) -> Any:
            if type(value) is not hint and (
                    not isinstance(value, hint) or (hint is int and isinstance(value, bool))):
                raise TypeError(f"expected {hint.__name__}")
            return value
        return plain
    if hint is datetime:
        def instant(value: Any, _where: str, _name: str) -> Any:
            parsed = datetime.fromisoformat(value)
            return parsed.astimezone(UTC) if parsed.tzinfo else parsed
        return instant
    if hint is date:
        return lambda value, _where, _name: date.fromisoformat(value)
    if hint is time:
        return lambda value, _where, _name: time.fromisoformat(value)
    if hint is timedelta:
        def seconds(value: Any, _where: str, _name: str) -> Any:
            if not isinstance(value, int | float) or isinstance(value, bool):
                raise TypeError("expected seconds")
            return timedelta(seconds=value)
        return seconds
    if isinstance(hint, type) and issubclass(hint, Enum):
        return lambda value, _where, _name: hint(value)
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        return lambda value, where, name: _decode_record(hint, value, f"{where}.{name}")
    if origin in (frozenset, set):
        item = _decoder(typing.get_args(hint)[0])
        return lambda value, where, name: frozenset(item(v, where, name) for v in value)
    if origin is tuple:
        args = typing.get_args(hint)
        if len(args) == 2 and args[1] is Ellipsis:
            item = _decoder(args[0])
            return lambda value, where, name: tuple(item(v, where, name) for v in value)
        items = [_decoder(a) for a in args]
        return lambda value, where, name: tuple(
            decode(v, where, name) for v, decode in zip(value, items, strict=True))
    return lambda value, _where, _name: value
