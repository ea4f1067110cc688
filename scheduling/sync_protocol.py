"""Wire constants of the desk ↔ server sync protocol (DESIGN §3).

Shared by the desk and the server so both speak the very same definitions.
Plain constants and dataclasses only: this module is part of the pure domain.

Push: the desk sends :class:`PushRequest` (its ``client_id`` and the outbox as
:class:`Mutation` values, in order); the server answers :class:`PushResult`.
Pull: the desk asks for everything after a version cursor and gets
:class:`PullResponse` pages (:class:`ChangeRecord`, :class:`Tombstone`,
:class:`ConflictRecord`). Every type converts to and from JSON-able dicts;
``from_json`` is strict (unknown or missing fields, wrong types raise
:class:`ProtocolError`). Client timestamps are informational: the server
orders by mutation id and by its own version, never by a client clock.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from scheduling.errors import SchedulingInputError
from scheduling.refusals import N_

#: The protocol version this code speaks. Bump it when the wire format changes.
PROTOCOL_VERSION = 1
#: The oldest desk protocol the server still accepts; older desks get 426 "update required".
MIN_PROTOCOL_VERSION = 1
#: The sync endpoints, relative to the server's address.
PUSH_PATH = "/api/v1/sync/push"
PULL_PATH = "/api/v1/sync/pull"
EVENTS_PATH = "/api/v1/sync/events"
ENROLL_PATH = "/api/v1/devices/enroll"
#: Request header carrying the sender's protocol version (an integer).
PROTOCOL_HEADER = "X-ClinicDesk-Protocol"
#: Request header carrying an enrolled desk's device token.
DEVICE_TOKEN_HEADER = "X-ClinicDesk-Device-Token"
#: Response header echoing the request id used in the server's logs.
REQUEST_ID_HEADER = "X-Request-ID"
#: Error code of the 426 answer to a too-old desk; the desk keeps its outbox.
UPDATE_REQUIRED = "update_required"
#: Error code of the 409 answer to a push whose mutation ids skip a number.
MUTATION_GAP = "mutation_gap"
#: Conflict code of a mutation the server could not even read (unknown name, bad
#: arguments). It is still counted as processed so one bad entry never blocks a desk.
INVALID_MUTATION = "INVALID_MUTATION"
#: Conflict code of a create intent whose record id the server already has.
DUPLICATE_ID = "DUPLICATE_ID"
#: The message ids (English msgids) of those two protocol-level conflicts.
INVALID_MUTATION_MESSAGE = N_(
    "The server could not read this change ({problem}); it was not applied.")
DUPLICATE_ID_MESSAGE = N_("A record with this id already exists; the change was not applied.")
#: Largest pull page the server serves.
MAX_PULL_LIMIT = 5000
#: The most mutations one push may carry.
MAX_PUSH_MUTATIONS = 1000
DEFAULT_PULL_LIMIT = 1000


@dataclass(frozen=True, slots=True)
class ProtocolRange:
    """The protocol versions a server accepts, as reported by its health endpoint."""

    current: int = PROTOCOL_VERSION
    minimum: int = MIN_PROTOCOL_VERSION

    def accepts(self, version: int) -> bool:
        """Whether a peer speaking ``version`` may talk to this side."""
        return version >= self.minimum


class ProtocolError(SchedulingInputError):
    """A push or pull message does not have the shape of the protocol."""


def _fields(data: object, what: str, required: set[str], optional: set[str]) -> Mapping[str, Any]:
    if not isinstance(data, Mapping):
        raise ProtocolError(f"{what} must be an object")
    unknown = sorted(set(data) - required - optional)
    if unknown:
        raise ProtocolError(f"{what} has unknown field(s): {', '.join(unknown)}")
    missing = sorted(required - set(data))
    if missing:
        raise ProtocolError(f"{what} is missing field(s): {', '.join(missing)}")
    return data


def _int(value: object, what: str, *, minimum: int = 0) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise ProtocolError(f"{what} must be a whole number of at least {minimum}")
    return value


def _text(value: object, what: str) -> str:
    if not isinstance(value, str) or not value:
        raise ProtocolError(f"{what} must be non-empty text")
    return value


def _object(value: object, what: str) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise ProtocolError(f"{what} must be an object")
    return dict(value)


def _objects(value: object, what: str) -> list[dict[str, Any]]:
    if not isinstance(value, list):
        raise ProtocolError(f"{what} must be a list")
    return [_object(item, what) for item in value]


@dataclass(frozen=True, slots=True)
class Mutation:
    """One outbox entry: a per-client, gap-free ``id``, an intent name and its arguments
    (:mod:`scheduling.intents`). ``client_time`` is when the desk queued it — shown to
    people, never used for ordering."""

    id: int
    name: str
    args: dict[str, Any]
    client_time: str | None = None
    #: The user signed in on the desk who made the change: the server judges the change
    #: with that user's permissions and names them in its audit. ``None`` (older desks):
    #: the front desk's fixed permissions.
    user_id: str | None = None

    def to_json(self) -> dict[str, Any]:
        data = {"id": self.id, "name": self.name, "args": dict(self.args),
                "client_time": self.client_time}
        if self.user_id is not None:
            data["user_id"] = self.user_id
        return data

    @classmethod
    def from_json(cls, data: object) -> Mutation:
        d = _fields(data, "a mutation", {"id", "name", "args"}, {"client_time", "user_id"})
        client_time = d.get("client_time")
        if client_time is not None and not isinstance(client_time, str):
            raise ProtocolError("a mutation's client_time must be text or null")
        user_id = d.get("user_id")
        if user_id is not None:
            user_id = _text(user_id, "a mutation's user_id")
        return cls(_int(d["id"], "a mutation id", minimum=1), _text(d["name"], "a mutation name"),
                   _object(d["args"], "a mutation's args"), client_time, user_id)


@dataclass(frozen=True, slots=True)
class PushRequest:
    client_id: str
    mutations: tuple[Mutation, ...]

    def to_json(self) -> dict[str, Any]:
        return {"client_id": self.client_id, "mutations": [m.to_json() for m in self.mutations]}

    @classmethod
    def from_json(cls, data: object) -> PushRequest:
        d = _fields(data, "a push", {"client_id", "mutations"}, set())
        if not isinstance(d["mutations"], list):
            raise ProtocolError("a push's mutations must be a list")
        return cls(_text(d["client_id"], "client_id"),
                   tuple(Mutation.from_json(m) for m in d["mutations"]))


@dataclass(frozen=True, slots=True)
class MutationResult:
    """What the server did with one pushed mutation: ``applied``, ``refused`` (a conflict
    was recorded), ``invalid`` (an :data:`INVALID_MUTATION` conflict) or ``skipped``
    (processed by an earlier push)."""

    id: int
    status: str
    code: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "status": self.status, "code": self.code}

    @classmethod
    def from_json(cls, data: object) -> MutationResult:
        d = _fields(data, "a mutation result", {"id", "status"}, {"code"})
        code = d.get("code")
        if code is not None and not isinstance(code, str):
            raise ProtocolError("a mutation result's code must be text or null")
        return cls(_int(d["id"], "a mutation id"), _text(d["status"], "a status"), code)


@dataclass(frozen=True, slots=True)
class PushResult:
    """The client's ``last_mutation_id`` after the push, and what happened to each mutation."""

    last_mutation_id: int
    results: tuple[MutationResult, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {"last_mutation_id": self.last_mutation_id,
                "results": [r.to_json() for r in self.results]}

    @classmethod
    def from_json(cls, data: object) -> PushResult:
        d = _fields(data, "a push result", {"last_mutation_id"}, {"results"})
        results = d.get("results", [])
        if not isinstance(results, list):
            raise ProtocolError("a push result's results must be a list")
        return cls(_int(d["last_mutation_id"], "last_mutation_id"),
                   tuple(MutationResult.from_json(r) for r in results))


@dataclass(frozen=True, slots=True)
class ChangeRecord:
    """A record as the server has it at ``version`` (``data``: its :mod:`scheduling.wire` form)."""

    entity: str
    id: str
    version: int
    data: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        return {"entity": self.entity, "id": self.id, "version": self.version,
                "data": dict(self.data)}

    @classmethod
    def from_json(cls, data: object) -> ChangeRecord:
        d = _fields(data, "a change", {"entity", "id", "version", "data"}, set())
        return cls(_text(d["entity"], "entity"), _text(d["id"], "id"),
                   _int(d["version"], "version"), _object(d["data"], "a change's data"))


@dataclass(frozen=True, slots=True)
class Tombstone:
    """A record deleted at ``version``."""

    entity: str
    id: str
    version: int

    def to_json(self) -> dict[str, Any]:
        return {"entity": self.entity, "id": self.id, "version": self.version}

    @classmethod
    def from_json(cls, data: object) -> Tombstone:
        d = _fields(data, "a tombstone", {"entity", "id", "version"}, set())
        return cls(_text(d["entity"], "entity"), _text(d["id"], "id"),
                   _int(d["version"], "version"))


@dataclass(frozen=True, slots=True)
class ConflictRecord:
    """A mutation of this desk the server refused: what was tried (``name``, ``args``), the
    refusal ``code``, its ``message_id`` (English msgid) with ``params``, and concrete
    ``alternatives`` (``{"start", "end", "provider_id", "room_id", "equipment_ids"}``)."""

    mutation_id: int
    name: str
    code: str
    message_id: str
    params: dict[str, Any] = field(default_factory=dict)
    alternatives: tuple[dict[str, Any], ...] = ()
    args: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        return {"mutation_id": self.mutation_id, "name": self.name, "code": self.code,
                "message_id": self.message_id, "params": dict(self.params),
                "alternatives": [dict(a) for a in self.alternatives],
                "args": None if self.args is None else dict(self.args)}

    @classmethod
    def from_json(cls, data: object) -> ConflictRecord:
        d = _fields(data, "a conflict", {"mutation_id", "name", "code", "message_id"},
                    {"params", "alternatives", "args"})
        args = d.get("args")
        return cls(_int(d["mutation_id"], "mutation_id"), _text(d["name"], "name"),
                   _text(d["code"], "code"), _text(d["message_id"], "message_id"),
                   _object(d.get("params") or {}, "a conflict's params"),
                   tuple(_objects(d.get("alternatives") or [], "an alternative")),
                   None if args is None else _object(args, "a conflict's args"))


@dataclass(frozen=True, slots=True)
class PullResponse:
    """One page of changes after the requested cursor, up to ``cursor``.

    ``has_more``: ask again with ``cursor`` for the next page. ``last_mutation_id``: the
    desk's outbox is processed up to here (conflicts included)."""

    cursor: int
    changes: tuple[ChangeRecord, ...]
    tombstones: tuple[Tombstone, ...]
    last_mutation_id: int
    conflicts: tuple[ConflictRecord, ...]
    has_more: bool

    def to_json(self) -> dict[str, Any]:
        return {
            "cursor": self.cursor,
            "changes": [c.to_json() for c in self.changes],
            "tombstones": [t.to_json() for t in self.tombstones],
            "last_mutation_id": self.last_mutation_id,
            "conflicts": [c.to_json() for c in self.conflicts],
            "has_more": self.has_more,
        }

    @classmethod
    def from_json(cls, data: object) -> PullResponse:
        names = {"cursor", "changes", "tombstones", "last_mutation_id", "conflicts", "has_more"}
        d = _fields(data, "a pull answer", names, set())
        if not isinstance(d["has_more"], bool):
            raise ProtocolError("has_more must be true or false")
        for name in ("changes", "tombstones", "conflicts"):
            if not isinstance(d[name], list):
                raise ProtocolError(f"{name} must be a list")
        return cls(
            _int(d["cursor"], "cursor"),
            tuple(ChangeRecord.from_json(c) for c in d["changes"]),
            tuple(Tombstone.from_json(t) for t in d["tombstones"]),
            _int(d["last_mutation_id"], "last_mutation_id"),
            tuple(ConflictRecord.from_json(c) for c in d["conflicts"]),
            d["has_more"],
        )


__all__ = [
    "DEFAULT_PULL_LIMIT",
    "DEVICE_TOKEN_HEADER",
    "DUPLICATE_ID",
    "DUPLICATE_ID_MESSAGE",
    "ENROLL_PATH",
    "EVENTS_PATH",
    "INVALID_MUTATION",
    "INVALID_MUTATION_MESSAGE",
    "MAX_PULL_LIMIT",
    "MAX_PUSH_MUTATIONS",
    "MIN_PROTOCOL_VERSION",
    "MUTATION_GAP",
    "PROTOCOL_HEADER",
    "PROTOCOL_VERSION",
    "PULL_PATH",
    "PUSH_PATH",
    "REQUEST_ID_HEADER",
    "UPDATE_REQUIRED",
    "ChangeRecord",
    "ConflictRecord",
    "Mutation",
    "MutationResult",
    "ProtocolError",
    "ProtocolRange",
    "PullResponse",
    "PushRequest",
    "PushResult",
    "Tombstone",
]
