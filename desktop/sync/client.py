"""The sync client: enrollment, push, pull and rebase, over one ``requests`` session (no Qt).

Push sends the outbox in order, in batches; it marks entries *pushed* but never
deletes one: only a pull's ``last_mutation_id`` acknowledges (and drops) them,
in the same transaction that stores the confirmed state (see
:mod:`desktop.sync.mirror`). The server skips ids it has already processed, so
a push repeated after any failure — a timeout, a crash, ``kill -9`` — applies
each mutation exactly once.

Every failure surfaces as a :class:`desktop.sync.errors.SyncError` in plain
words; none of them touches the outbox. Connection errors, timeouts and 5xx
answers are retried with exponential backoff and jitter first.

The device token lives in the OS key store (service ``ClinicDesk``); the
store only keeps the key store username (``sync_state.device_token_ref``).
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlparse

import requests
import urllib3
from keyring.backend import KeyringBackend
from keyring.errors import KeyringError
from sqlalchemy import select, update

from desktop.config import DeskConfig, save_config, with_server_url
from desktop.services.changes import EVERYTHING, NOTHING, DataChanges
from desktop.services.session import Department, ServerIdentity
from desktop.store import outbox
from desktop.store.engine import Store
from desktop.store.errors import NoKeyStoreError
from desktop.store.keys import KEYRING_SERVICE, usable_key_store
from desktop.store.models import SYNC_STATE_ID, OutboxEntry, OutboxState, SyncState
from desktop.sync import mirror
from desktop.sync.answers import (
    error_code,
    error_message,
    parse_enrollment,
    parse_pull,
    parse_push,
)
from desktop.sync.errors import (
    BadResponse,
    DeviceRevoked,
    EnrollmentRefused,
    NotEnrolled,
    OtherOrganization,
    OutOfOrder,
    RequestRefused,
    ServerFailure,
    ServerTimeout,
    ServerUnreachable,
    SyncCancelled,
    SyncError,
    TwoStepRequired,
    UpdateRequired,
)
from desktop.sync.events import PokeListener
from scheduling.sync_protocol import (
    DEVICE_TOKEN_HEADER,
    ENROLL_PATH,
    MAX_PUSH_MUTATIONS,
    MUTATION_GAP,
    PROTOCOL_HEADER,
    PROTOCOL_VERSION,
    PULL_PATH,
    PUSH_PATH,
    Mutation,
    PullResponse,
)

log = logging.getLogger("desktop.sync")

CONNECT_TIMEOUT = 3.0
READ_TIMEOUT = 10.0
#: As many as the server takes in one push: a backlog after a long time offline goes in
#: few requests (the server's cost per push, not per mutation, is what a small batch
#: repeats). A push of 1,000 takes well under a second on the server here.
PUSH_BATCH = MAX_PUSH_MUTATIONS
PULL_LIMIT = 1000
#: Answers worth asking again: the server or a proxy in front of it is having a moment.
RETRY_STATUSES = frozenset({500, 502, 503, 504})

Progress = Callable[[int, int], None]
Sleep = Callable[[float], None]


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Exponential backoff with full jitter: ``uniform(0, min(cap, base * 2**n))``."""

    attempts: int = 4
    base_seconds: float = 0.5
    cap_seconds: float = 8.0

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        ceiling = min(self.cap_seconds, self.base_seconds * 2 ** attempt)
        if retry_after is not None:
            return min(self.cap_seconds, max(retry_after, 0.0))
        return random.uniform(0, ceiling)  # jitter, not cryptography


@dataclass(frozen=True, slots=True)
class PushResult:
    sent: int  # mutations sent in this push (the server skips those it already has)
    batches: int
    server_last_mutation_id: int | None


@dataclass(frozen=True, slots=True)
class PullResult:
    pages: int
    changed: int
    new_conflicts: int
    cursor: int
    last_mutation_id: int
    restored: int  # rows fetched again after the server refused a change to them
    changes: DataChanges = NOTHING  # where the changed records are (the views redraw there)


@dataclass(frozen=True, slots=True)
class SyncResult:
    push: PushResult
    pull: PullResult
    pending: int


def token_ref_for(store_id: str) -> str:
    """The key store username of a desk's device token."""
    return f"device-token:{store_id}"


class SyncClient:
    """Talks to the sync server for one desk store. Not thread-safe: one caller at a time."""

    def __init__(
        self,
        store: Store,
        config: DeskConfig,
        session: requests.Session,
        *,
        keyring_backend: KeyringBackend | None = None,
        retry: RetryPolicy | None = None,
        timeout: tuple[float, float] = (CONNECT_TIMEOUT, READ_TIMEOUT),
        push_batch: int = PUSH_BATCH,
        pull_limit: int = PULL_LIMIT,
        sleep: Sleep = time.sleep,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        protocol_version: int = PROTOCOL_VERSION,
    ) -> None:
        self.store = store
        self.config = config
        self.http = session
        self._keyring = keyring_backend
        self._retry = retry or RetryPolicy()
        self._timeout = timeout
        self._push_batch = push_batch
        self._pull_limit = pull_limit
        self._sleep = sleep
        self._clock = clock
        self._protocol = protocol_version
        self._cancelled = threading.Event()

    def sibling(self) -> SyncClient:
        """The same desk with an HTTP session of its own, for calls from another thread
        than this client's (``requests`` sessions are not shared across threads)."""
        return SyncClient(self.store, self.config, requests.Session(),
                          keyring_backend=self._keyring, retry=self._retry,
                          timeout=self._timeout, clock=self._clock,
                          protocol_version=self._protocol)

    def cancel(self) -> None:
        """Thread-safe: stop at the next request or retry wait (the desk is closing).

        Every later request raises :class:`SyncCancelled`; what was applied stays.
        """
        self._cancelled.set()

    @property
    def cancelled(self) -> bool:
        return self._cancelled.is_set()

    # ------------------------------------------------------------------ enrollment

    def enroll(self, server_url: str, code: str, progress: Progress | None = None,
               *, name: str = "") -> str:
        """Redeem a one-time code, keep the credential, download everything; returns client id.

        The device token goes to the OS key store, the server URL to ``desk.json``.
        Changes already queued on this desk are renumbered for the new client id and
        sent with the next sync.
        """
        key_store = usable_key_store(self._keyring)
        if key_store is None:
            raise NoKeyStoreError("This computer has no usable secure key store for the "
                                  "desk's server credential.")
        base = server_url.rstrip("/")
        body = self._call("POST", base + ENROLL_PATH, json={"code": code, "name": name},
                          authenticated=False, retry=False)
        enrollment = parse_enrollment(body)
        with self.store.session() as session:
            known = _state(session).organization_id
        if known and enrollment.organization_id and known != enrollment.organization_id:
            # The store holds another organization's records and, maybe, changes for it.
            raise OtherOrganization("enrollment code of another organization")
        ref = token_ref_for(self.store.store_id)
        key_store.set_password(KEYRING_SERVICE, ref, enrollment.device_token)
        with self.store.write() as session:
            state = _state(session)
            state.client_id = enrollment.client_id
            state.organization_id = enrollment.organization_id or state.organization_id
            state.device_token_ref = ref
            state.server_version = 0  # a full download for the (possibly new) organization
            _renumber_outbox(session, state)
        self.config = with_server_url(self.config, base)
        save_config(self.config)
        self.pull(progress)
        return enrollment.client_id

    # ------------------------------------------------------------------ sync

    def sync_once(self) -> SyncResult:
        """Push the outbox, then pull until up to date."""
        pushed = self.push()
        pulled = self.pull()
        return SyncResult(pushed, pulled, self.pending_count())

    def pending_count(self) -> int:
        with self.store.session() as session:
            return outbox.pending_count(session)

    def push(self) -> PushResult:
        """Send every outbox entry in order, ``push_batch`` at a time; a batch the server
        answered only in part goes on from its ``last_mutation_id``."""
        client_id, _ = self._credentials()
        sent_up_to = 0
        sent = batches = 0
        server_last: int | None = None
        while True:
            with self.store.session() as session:
                entries = [
                    Mutation(e.mutation_id, e.name, dict(e.args),
                             e.created_at.isoformat(), e.user_id).to_json()
                    for e in session.scalars(
                        select(OutboxEntry).where(OutboxEntry.mutation_id > sent_up_to)
                        .order_by(OutboxEntry.mutation_id).limit(self._push_batch))
                ]
            if not entries:
                break
            body = self._call("POST", self._url(PUSH_PATH),
                              json={"client_id": client_id, "mutations": entries})
            server_last = parse_push(body)
            # A server answers within a few seconds with what it processed: the rest of
            # the batch goes again, from the next one on.
            done = entries[-1]["id"] if server_last is None \
                else min(server_last, entries[-1]["id"])
            if done < entries[0]["id"]:
                break  # nothing of this batch processed: the next sync round retries
            sent_up_to = done
            with self.store.write() as session:
                outbox.mark_pushed(session, sent_up_to)
            sent += sum(1 for e in entries if e["id"] <= done)
            batches += 1
        return PushResult(sent, batches, server_last)

    def pull(self, progress: Progress | None = None) -> PullResult:
        """Fetch changes after the stored cursor until ``has_more`` is false.

        Each page is applied in one local transaction; the last one also rebases
        (drops or re-fetches rows the server refused).
        """
        self._credentials()
        with self.store.session() as session:
            cursor = _state(session).server_version
        pages = changed = conflicts = restored = 0
        changes = NOTHING
        while True:
            page = self._pull_page(cursor)
            with self.store.write() as session:
                outcome = mirror.apply_page(session, page, self._clock())
            pages += 1
            changed += outcome.changed
            changes = changes.merged(outcome.changes)
            conflicts += outcome.new_conflicts
            cursor = max(cursor, page.cursor)
            if progress is not None:
                progress(changed, changed + (self._pull_limit if page.has_more else 0))
            if outcome.orphans:
                restored += self._restore(outcome.orphans)
            if not page.has_more:
                break
        with self.store.session() as session:
            state = _state(session)
            return PullResult(pages, changed, conflicts, state.server_version,
                              state.last_mutation_id, restored,
                              changes.merged(EVERYTHING) if restored else changes)

    def poke_listener(
        self, on_poke: Callable[[int], None], on_stream: Callable[[bool], None]
    ) -> PokeListener | None:
        """A listener on the server's event stream (None before enrollment)."""
        if self.config.server_url is None:
            return None
        return PokeListener(requests.Session(), self.config.server_url,
                            lambda: self._credentials()[1], on_poke, on_stream)

    def check_credentials(
        self, organization: str, email: str, password: str, totp: str | None
    ) -> ServerIdentity | None:
        """The online password check behind ``SignInService.sign_in_online``.

        Returns None when the server refuses the credentials; network trouble raises.
        """
        try:
            tokens = self._call("POST", self._url("/api/v1/auth/login"), authenticated=False,
                                retry=False, json={"organization": organization, "email": email,
                                                   "password": password, "totp": totp})
        except RequestRefused as refused:
            if refused.code == "mfa_enrolment_required":
                raise TwoStepRequired(refused.code) from None
            if refused.status in (400, 401, 403, 422):
                return None
            raise BadResponse(f"login answered {refused.status}") from None
        access = tokens.get("access_token") if isinstance(tokens, dict) else None
        if not isinstance(access, str):
            raise BadResponse("login answer without an access token")
        me = self._call("GET", self._url("/api/v1/auth/me"), authenticated=False,
                        headers={"Authorization": f"Bearer {access}"})
        try:
            # A department-scoped role grants its permissions in the user's departments;
            # the desk shows only those departments (``departments``), so it may use them.
            scoped = {str(p) for p, where in (me.get("department_permissions") or {}).items()
                      if where}
            context = me.get("department_context")
            return ServerIdentity(
                str(me["user_id"]), str(me["organization_id"]),
                str(me.get("display_name") or me.get("email") or ""),
                tuple(me.get("roles") or ()), frozenset(me.get("permissions") or ()) | scoped,
                None if context is None else tuple(
                    Department(str(d["id"]), str(d["name"])) for d in context))
        except (KeyError, TypeError, AttributeError) as error:
            raise BadResponse("malformed account answer") from error

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        """One request to the server as this desk (its device token), without retries:
        the decoded JSON answer, or a :class:`SyncError` (e.g. for the feeds dialog)."""
        return self._call(method, self._url(path), retry=False, **kwargs)

    # ------------------------------------------------------------------ internals

    def _pull_page(self, cursor: int) -> PullResponse:
        body = self._call("GET", self._url(PULL_PATH),
                          params={"cursor": cursor, "limit": self._pull_limit})
        return parse_pull(body)

    def _restore(self, orphans: list[mirror.Orphan]) -> int:
        """Fetch again the records the server refused to change: pull from the start,
        applying only those records, and drop any the server no longer has."""
        wanted = set(orphans)
        seen: set[mirror.Orphan] = set()
        cursor = restored = 0
        while True:
            page = self._pull_page(cursor)
            seen.update(mirror.Orphan(c.entity, c.id) for c in page.changes)
            seen.update(mirror.Orphan(t.entity, t.id) for t in page.tombstones)
            with self.store.write() as session:
                acknowledged = _state(session).last_mutation_id
                restored += mirror.apply_changes(session, page.changes, page.tombstones,
                                                 acknowledged, only=wanted)
                if not page.has_more:
                    gone = [o for o in wanted - seen]
                    for orphan in gone:
                        row = session.get(dict(mirror.EDITABLE)[orphan.entity], orphan.id)
                        if row is not None and not mirror.still_pending(row, acknowledged):
                            session.delete(row)
                            restored += 1
            if not page.has_more:
                return restored
            cursor = page.cursor

    def is_enrolled(self) -> bool:
        """Whether the desk has its server address, client id and credential (key store)."""
        try:
            self._credentials()
        except NotEnrolled:
            return False
        return True

    def _credentials(self) -> tuple[str, str]:
        if self.config.server_url is None:
            raise NotEnrolled("no server URL")
        with self.store.session() as session:
            state = _state(session)
            client_id, ref = state.client_id, state.device_token_ref
        if not client_id or not ref:
            raise NotEnrolled("no client id")
        key_store = usable_key_store(self._keyring)
        try:
            token = None if key_store is None else key_store.get_password(KEYRING_SERVICE, ref)
        except KeyringError:
            token = None
        if not token:
            raise NotEnrolled("the device token is missing from the key store")
        return client_id, token

    def _url(self, path: str) -> str:
        assert self.config.server_url is not None
        return self.config.server_url + path

    def _call(
        self,
        method: str,
        url: str,
        *,
        authenticated: bool = True,
        retry: bool = True,
        headers: Mapping[str, str] | None = None,
        raw: bool = False,
        **kwargs: Any,
    ) -> Any:
        """One request with retries; the decoded JSON body (``raw``: the body's bytes, e.g.
        a document), or a :class:`SyncError`."""
        all_headers = {PROTOCOL_HEADER: str(self._protocol), **(headers or {})}
        if authenticated:
            all_headers[DEVICE_TOKEN_HEADER] = self._credentials()[1]
        attempts = self._retry.attempts if retry else 1
        for attempt in range(attempts):
            last = attempt == attempts - 1
            if self._cancelled.is_set():
                raise SyncCancelled("the desk is closing")
            try:
                response = self._send(method, url, all_headers, kwargs)
            except requests.ConnectionError as error:  # includes ConnectTimeout
                failure: SyncError = ServerUnreachable(type(error).__name__)
                retry_after = None
            except requests.Timeout as error:
                failure = ServerTimeout(type(error).__name__)
                retry_after = None
            except requests.RequestException as error:
                # The answer broke off mid-body (ChunkedEncodingError …): the connection went,
                # as in a ConnectionError; pushing again is safe (processed ids are skipped).
                failure = ServerUnreachable(type(error).__name__)
                retry_after = None
            else:
                if response.status_code not in RETRY_STATUSES:
                    if raw and 200 <= response.status_code < 300:
                        return response.content
                    return _decode(response)
                failure = ServerFailure(f"HTTP {response.status_code}",
                                        status=response.status_code)
                retry_after = _retry_after(response)
            log.info("sync request failed (%s %s): %s", method, _path_of(url), failure.detail)
            if last:
                raise failure
            delay = self._retry.delay(attempt, retry_after)
            if self._sleep is time.sleep:
                self._cancelled.wait(delay)  # a closing desk does not wait out the backoff
            else:
                self._sleep(delay)
        raise AssertionError("unreachable")

    def _send(self, method: str, url: str, headers: Mapping[str, str],
              kwargs: Mapping[str, Any]) -> requests.Response:
        """One request; sent once more at once, on a new connection, when the server closed
        the connection without answering (see :func:`_closed_unanswered`)."""
        try:
            return self.http.request(method, url, headers=headers, timeout=self._timeout,
                                     **kwargs)
        except requests.ConnectionError as error:
            if not _closed_unanswered(error):
                raise
            log.info("sync request sent again (%s %s): the server closed an idle connection",
                     method, _path_of(url))
            return self.http.request(method, url, headers=headers, timeout=self._timeout,
                                     **kwargs)


def _closed_unanswered(error: requests.ConnectionError) -> bool:
    """The connection was closed under the request before any answer came.

    The session keeps connections open between calls; the server closes one it has not
    heard from for a while (uvicorn: 5 s). A request written just as that happens meets
    a reset or an empty answer although the server is up and never read it: that is no
    reason to tell the user the server cannot be reached (the desk is often idle that
    long, e.g. before a sign-in). A refused or timed-out connection is not this case.
    """
    cause = error.args[0] if error.args else None
    if not isinstance(cause, urllib3.exceptions.ProtocolError):
        return False
    reason = cause.args[1] if len(cause.args) > 1 else None
    # http.client.RemoteDisconnected (an empty answer) is a ConnectionResetError.
    return isinstance(reason, ConnectionResetError | BrokenPipeError)


def _decode(response: requests.Response) -> Any:
    status = response.status_code
    try:
        body = response.json()
    except ValueError:
        body = None
    if status == 204:
        return None  # done, nothing to say (e.g. a deletion)
    if 200 <= status < 300:
        if body is None:
            raise BadResponse(f"HTTP {status} with a body that is not JSON")
        return body
    code = error_code(body)
    if status == 426 or code == "update_required":
        raise UpdateRequired(f"HTTP {status}", download_url=_download_url(body))
    if status == 401:
        if code in ("invalid_enrollment_code",):
            raise EnrollmentRefused(code)
        if code in ("device_revoked", "unknown_device"):
            raise DeviceRevoked(code)
        raise RequestRefused(status, code, error_message(body))
    if status == 409 and code == MUTATION_GAP:
        raise OutOfOrder(code)
    if status >= 500:
        raise ServerFailure(f"HTTP {status}", status=status)
    error = body.get("error") if isinstance(body, dict) else None
    raise RequestRefused(status, code, error_message(body),
                         error if status == 409 and isinstance(error, dict) else None)


def _download_url(body: Any) -> str:
    """The ``download_url`` of a 426 answer when it is an http(s) link, else ""."""
    error = body.get("error") if isinstance(body, dict) else None
    url = error.get("download_url") if isinstance(error, dict) else None
    if isinstance(url, str) and urlparse(url).scheme in ("https", "http") and len(url) < 500:
        return url
    return ""


def _retry_after(response: requests.Response) -> float | None:
    value = response.headers.get("Retry-After")
    try:
        return None if value is None else float(value)
    except ValueError:
        return None


def _path_of(url: str) -> str:
    # Log the endpoint, never the query string (cursor values are harmless, but stay terse).
    return "/" + url.split("://", 1)[-1].split("/", 1)[-1].split("?", 1)[0]


def _state(session: Any) -> SyncState:
    state: SyncState | None = session.get(SyncState, SYNC_STATE_ID)
    assert state is not None, "the desk schema always has its sync_state row"
    return state


def _renumber_outbox(session: Any, state: SyncState) -> None:
    """Give queued entries the ids 1, 2, … of a fresh client (and their pending rows too)."""
    entries = session.scalars(select(OutboxEntry).order_by(OutboxEntry.mutation_id)).all()
    renumbered = {entry.mutation_id: index for index, entry in enumerate(entries, start=1)}
    for old, new in renumbered.items():  # ascending, so a new id never meets an old one
        if old == new:
            continue
        session.execute(update(OutboxEntry).where(OutboxEntry.mutation_id == old)
                        .values(mutation_id=new, state=OutboxState.QUEUED))
        for _, table in mirror.EDITABLE:
            session.execute(update(table).where(table.pending_mutation_id == old)
                            .values(pending_mutation_id=new))
    state.last_mutation_id = 0


__all__ = [
    "PULL_LIMIT",
    "PUSH_BATCH",
    "PullResult",
    "PushResult",
    "RetryPolicy",
    "SyncClient",
    "SyncResult",
    "token_ref_for",
]
