"""Why a sync did not go through, in words a receptionist understands.

Each error carries a gettext msgid (``message_id``, marked with ``N_`` so
Babel extracts it) and its parameters; ``str(error)`` is the English text.
Every message ends by saying that nothing typed at the desk is lost, because
that is true for every one of them: the outbox is only ever emptied by the
server's acknowledgement. No message contains patient data or server bodies.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from scheduling.refusals import N_

KEPT = N_("Your changes are kept on this desk and will be sent later.")


class SyncError(Exception):
    """Base class: a push, pull or enrollment did not complete (nothing local was lost)."""

    message_id: str = N_("The desk could not synchronise with the server.")
    #: Worth retrying automatically later (network weather), as opposed to needing a person.
    transient: bool = True
    #: Whether to add that the desk's own changes are kept (true for every sync failure).
    keeps_changes: bool = True

    def __init__(self, detail: str = "", **params: object) -> None:
        self.detail = detail  # for logs: never a server body, never patient data
        self.params: Mapping[str, object] = MappingProxyType(dict(params))
        super().__init__(self.plain())

    def plain(self) -> str:
        """The English message shown to the receptionist."""
        try:
            text = self.message_id.format_map(dict(self.params))
        except (KeyError, ValueError, IndexError):
            text = self.message_id
        return f"{text} {KEPT}" if self.keeps_changes else text


class SyncCancelled(SyncError):
    """The desk is closing: the sync stopped before its next request (nothing was lost —
    every page already pulled was applied in its own transaction)."""


class ServerUnreachable(SyncError):
    message_id = N_("The server cannot be reached. Check the internet connection.")


class ServerTimeout(SyncError):
    message_id = N_("The server is too slow to answer right now; the desk will try again.")


class ServerFailure(SyncError):
    message_id = N_("The server has a problem right now (error {status}); "
                    "the desk will try again.")


class BadResponse(SyncError):
    message_id = N_("The server sent an answer the desk does not understand. "
                    "If this keeps happening, tell your administrator.")


class DeviceRevoked(SyncError):
    message_id = N_("This desk is no longer allowed to connect to the server. "
                    "Ask your administrator to enroll it again.")
    transient = False


class NotEnrolled(SyncError):
    message_id = N_("This desk is not connected to a server yet. "
                    "Ask your administrator to enroll it.")
    transient = False


class UpdateRequired(SyncError):
    message_id = N_("This version of ClinicDesk is too old for the server. "
                    "Please install the new version.")
    transient = False

    def __init__(self, detail: str = "", download_url: str = "") -> None:
        if download_url:
            # Only http(s) links from the server's 426 answer; never shown otherwise.
            self.message_id = N_("Update required: this version of ClinicDesk is too old "
                                 "for the server. Download the new version from {url}")
            super().__init__(detail, url=download_url)
        else:
            super().__init__(detail)
        self.download_url = download_url


class EnrollmentRefused(SyncError):
    message_id = N_("The enrollment code was not accepted: it is unknown, expired or "
                    "already used. Ask your administrator for a new one.")
    transient = False
    keeps_changes = False


class RequestRefused(SyncError):
    """A 4xx answer that no other class describes; ``status`` and ``code`` say which."""

    message_id = N_("The server did not accept the desk's request (error {status}). "
                    "If this keeps happening, tell your administrator.")
    transient = False

    def __init__(self, status: int, code: str = "", server_message: str = "",
                 refusal: Mapping[str, Any] | None = None) -> None:
        super().__init__(f"HTTP {status} {code}".strip(), status=status)
        self.status = status
        self.code = code
        #: The server's own words for the desk (its error bodies never echo submitted
        #: values); shown only by screens that ask, never logged.
        self.server_message = server_message
        #: A booking refusal's ``params`` and ``alternatives`` (409 answers), else empty.
        self.refusal: Mapping[str, Any] = refusal or {}


class TwoStepRequired(SyncError):
    """The password was right, but the user's role requires two-step sign-in and the
    account has none yet."""

    message_id = N_("Your role requires two-step sign-in. Choose “Enrol two-step sign-in” "
                    "below to set up an authenticator app, then sign in with its code.")
    transient = False
    keeps_changes = False


class OtherOrganization(SyncError):
    """The server answered for another organization than the one this desk belongs to."""

    message_id = N_("The server answered for a different clinic organization than the one "
                    "this desk belongs to, so the desk did not use the answer. "
                    "Ask your administrator to check the desk's server address.")
    transient = False


class OutOfOrder(SyncError):
    message_id = N_("The server expected other changes first; the desk will resend them.")


__all__ = [
    "BadResponse",
    "DeviceRevoked",
    "EnrollmentRefused",
    "NotEnrolled",
    "OtherOrganization",
    "OutOfOrder",
    "RequestRefused",
    "ServerFailure",
    "ServerTimeout",
    "ServerUnreachable",
    "SyncError",
    "UpdateRequired",
]
