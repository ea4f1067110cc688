"""The desk's reading of the server's answers: push, pull, enrollment and error bodies.

Pull pages decode into :mod:`scheduling.sync_protocol`'s own values (the definitions
the server uses too). Anything that does not parse raises
:class:`desktop.sync.errors.BadResponse`, so a garbage answer can never reach the
store half-understood; the field aliases and defaults older servers used are accepted.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from desktop.sync.errors import BadResponse
from scheduling.sync_protocol import ChangeRecord, ConflictRecord, PullResponse, Tombstone


@dataclass(frozen=True, slots=True)
class Enrollment:
    client_id: str
    device_token: str
    organization_id: str
    device_id: str


# --------------------------------------------------------------------------- parsing


def _int(data: Mapping[str, Any], *names: str, default: int | None = None) -> int:
    for name in names:
        value = data.get(name)
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    if default is not None:
        return default
    raise BadResponse(f"missing or non-integer field {names[0]}")


def _str(data: Mapping[str, Any], *names: str) -> str:
    for name in names:
        value = data.get(name)
        if isinstance(value, str) and value:
            return value
    raise BadResponse(f"missing or non-text field {names[0]}")


def _object(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise BadResponse(f"{what} is not an object")
    return value


def _list(data: Mapping[str, Any], name: str) -> list[Any]:
    value = data.get(name, [])
    if not isinstance(value, list):
        raise BadResponse(f"{name} is not a list")
    return value


def parse_change(item: Any) -> ChangeRecord:
    item = _object(item, "a change")
    data = item.get("data", item.get("payload", item.get("record")))
    return ChangeRecord(_str(item, "entity"), _str(item, "id", "entity_id"),
                  _int(item, "version", default=0), _object(data, "a change's record"))


def parse_tombstone(item: Any) -> Tombstone:
    item = _object(item, "a tombstone")
    return Tombstone(_str(item, "entity"), _str(item, "id", "entity_id"),
                     _int(item, "version", default=0))


def parse_conflict(item: Any) -> ConflictRecord:
    """A refused mutation; ``args`` is None when the answer does not say what was tried
    (the desk then looks it up in its outbox)."""
    item = _object(item, "a conflict")
    params = item.get("params") or {}
    alternatives = item.get("alternatives") or []
    attempted = item.get("attempted")
    if not isinstance(attempted, dict) and "name" in item:
        attempted = {"name": item.get("name"), "args": item.get("args") or {}}
    if not isinstance(params, dict) or not isinstance(alternatives, list):
        raise BadResponse("a conflict's params or alternatives are malformed")
    if isinstance(attempted, dict) and attempted:
        name, args = str(attempted.get("name") or ""), dict(attempted.get("args") or {})
    else:
        name, args = "", None
    return ConflictRecord(
        mutation_id=_int(item, "mutation_id"),
        name=name,
        code=_str(item, "code"),
        message_id=str(item.get("message_id") or item.get("message") or item["code"]),
        params=params,
        alternatives=tuple(_object(a, "an alternative") for a in alternatives),
        args=args,
    )


def parse_pull(body: Any) -> PullResponse:
    body = _object(body, "the pull answer")
    try:
        return PullResponse(
            cursor=_int(body, "cursor"),
            changes=tuple(parse_change(c) for c in _list(body, "changes")),
            tombstones=tuple(parse_tombstone(t) for t in _list(body, "tombstones")),
            last_mutation_id=_int(body, "last_mutation_id", default=0),
            conflicts=tuple(parse_conflict(c) for c in _list(body, "conflicts")),
            has_more=bool(body.get("has_more", False)),
        )
    except (KeyError, TypeError) as error:
        raise BadResponse(f"malformed pull answer ({type(error).__name__})") from error


def parse_push(body: Any) -> int | None:
    """The server's ``last_mutation_id`` after a push, when it says so."""
    if not isinstance(body, dict):
        raise BadResponse("the push answer is not an object")
    value = body.get("last_mutation_id")
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def parse_enrollment(body: Any) -> Enrollment:
    body = _object(body, "the enrollment answer")
    return Enrollment(
        client_id=_str(body, "client_id"),
        device_token=_str(body, "device_token"),
        organization_id=str(body.get("organization_id") or ""),
        device_id=str(body.get("device_id") or ""),
    )


def error_message(body: Any) -> str:
    """The server's ``{"error": {"message": ...}}`` words, or "" when there are none."""
    error = body.get("error") if isinstance(body, dict) else None
    message = error.get("message") if isinstance(error, dict) else None
    return message[:2000] if isinstance(message, str) else ""


def error_code(body: Any) -> str:
    """The server's ``{"error": {"code": ...}}`` code, or "" when there is none."""
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict) and isinstance(error.get("code"), str):
            return str(error["code"])
        detail = body.get("detail")
        if isinstance(detail, dict) and isinstance(detail.get("code"), str):
            return str(detail["code"])
    return ""

