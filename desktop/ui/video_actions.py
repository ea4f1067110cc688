"""The agenda's video-visit actions: "Join video", "Leave video" and "Session log…" in a
telemedicine appointment's context menu (docs/telemedicine.md, "Session log").

"Join video" records the provider's join on the server and opens the visit's link in
the browser (``open_url``; tests replace it); without a link yet it says so. The log
dialog lists joins, leaves and reported problems in the clinic's time. Needs the server
(:meth:`VideoActions.set_service`).
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject, QUrl
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QListWidget,
    QMenu,
    QVBoxLayout,
    QWidget,
)

from desktop.services.context import DeskContext
from desktop.services.dto import AgendaItem
from desktop.services.session import SessionLocked
from desktop.services.video_visits import (
    NotificationsOffline,
    NotificationsRefused,
    SessionEntry,
    SessionLog,
    VideoVisitsService,
    is_video_type,
)
from desktop.ui.text import N_, _, format_clock

#: One log line per (role, action): "10:02 Patient joined".
LINES = {
    ("patient", "join"): N_("{time} The patient joined"),
    ("patient", "leave"): N_("{time} The patient left"),
    ("provider", "join"): N_("{time} The provider joined"),
    ("provider", "leave"): N_("{time} The provider left"),
}
PROBLEM_LINE = N_("{time} The patient reported a problem: {problem}")
PROBLEMS = {
    "no_video": N_("cannot see the provider"),
    "no_sound": N_("cannot hear the provider"),
    "cannot_connect": N_("the video does not open"),
    "dropped": N_("the call dropped"),
    "other": N_("something else"),
}
NO_JOIN = {
    "offered": N_("The provider did not join: the patient was offered a backup provider or "
                  "a new time."),
    "moved": N_("The provider did not join: the patient moved to the backup provider."),
    "rebooked": N_("The provider did not join: the patient chose a new time."),
    "closed": N_("The provider joined late; the offer to the patient was withdrawn."),
}

#: The server's refusals, in the desk's words.
REFUSED = {
    "too_early": N_("The video visit is not open yet (it opens 15 minutes before the start)."),
    "too_late": N_("This video visit is over."),
    "not_taking_place": N_("This visit is cancelled or was missed."),
    "not_joined": N_("You have not joined this video visit."),
    "not_telemedicine": N_("This appointment is not a video visit."),
}


def entry_text(entry: SessionEntry, zone: str, locale: str) -> str:
    time = format_clock(entry.at, zone, locale)
    if entry.action == "problem":
        problem = _(PROBLEMS.get(entry.problem or "", PROBLEMS["other"]))
        if entry.problem_text:
            problem = f"{problem} — {entry.problem_text}"
        return _(PROBLEM_LINE).format(time=time, problem=problem)
    return _(LINES[(entry.role, entry.action)]).format(time=time)


class SessionLogDialog(QDialog):
    """The visit's joins, leaves and problems, oldest first."""

    def __init__(self, log: SessionLog, zone: str, locale: str,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(_("Video visit session log"))
        layout = QVBoxLayout(self)
        self.entries = QListWidget(self)
        for entry in log.entries:
            self.entries.addItem(entry_text(entry, zone, locale))
        if not log.entries:
            self.entries.addItem(_("Nobody has joined this video visit yet."))
        layout.addWidget(self.entries)
        self.case = QLabel(_(NO_JOIN[log.no_join]) if log.no_join in NO_JOIN else "", self)
        self.case.setWordWrap(True)
        self.case.setVisible(bool(self.case.text()))
        layout.addWidget(self.case)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        self.resize(520, 360)


class VideoActions(QObject):
    """Adds the video actions to a telemedicine appointment's context menu."""

    def __init__(self, ctx: DeskContext, parent: QWidget, say: Callable[[str], None],
                 clinic: Callable[[], tuple[str, str]]) -> None:
        """``clinic``: (time zone, locale) of the shown clinic."""
        super().__init__(parent)
        self._ctx, self._parent, self._say, self._clinic = ctx, parent, say, clinic
        self._service: VideoVisitsService | None = None
        self.open_url: Callable[[str], object] = lambda url: QDesktopServices.openUrl(
            QUrl(url))
        self.dialog: SessionLogDialog | None = None

    def set_service(self, service: VideoVisitsService | None) -> None:
        self._service = service

    def extend(self, menu: QMenu, item: AgendaItem) -> None:
        """The video actions, when ``item`` is a video visit."""
        try:
            video = is_video_type(self._ctx, item.appointment_type_id)
        except SessionLocked:
            return
        if not video:
            return
        menu.addSeparator()
        appointment_id = item.appointment_id
        for data, label, run in (("video_join", N_("Join video"), self.join),
                                 ("video_leave", N_("Leave video"), self.leave),
                                 ("video_log", N_("Session log…"), self.show_log)):
            action = menu.addAction(_(label))
            action.setData(data)
            action.triggered.connect(lambda _checked=False, r=run: r(appointment_id))

    def join(self, appointment_id: str) -> bool:
        log = self._ask(lambda service: service.join(appointment_id))
        if log is None:
            return False
        if log.video_url is None:
            self._say(_("Your join is recorded, but this visit has no video link yet."))
            return False
        self.open_url(log.video_url)
        self._say(_("Your join is recorded; the video visit opens in the browser."))
        return True

    def leave(self, appointment_id: str) -> bool:
        log = self._ask(lambda service: service.leave(appointment_id))
        if log is not None:
            self._say(_("Your leave is recorded."))
        return log is not None

    def show_log(self, appointment_id: str) -> SessionLogDialog | None:
        log = self._ask(lambda service: service.log(appointment_id))
        if log is None:
            return None
        zone, locale = self._clinic()
        self.dialog = SessionLogDialog(log, zone, locale, self._parent)
        self.dialog.open()
        return self.dialog

    def _ask(self, run: Callable[[VideoVisitsService], SessionLog]) -> SessionLog | None:
        if self._service is None:
            self._say(_("Video visits need a connection to the server."))
            return None
        try:
            return run(self._service)
        except NotificationsOffline:
            self._say(_("The server cannot be reached; nothing was recorded."))
        except NotificationsRefused as refused:
            self._say(_(REFUSED[refused.code]) if refused.code in REFUSED else
                      _("The server said no: {reason}").format(
                          reason=refused.message or refused.code))
        except SessionLocked:
            self._say(_("Sign in first."))
        return None
