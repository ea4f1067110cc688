"""The agenda: a clinic's day or week in columns per provider or per room.

The main window knows the agenda only through :class:`AgendaWidget` and this
contract (kept stable while the agenda grows):

* ``AgendaWidget(ctx, parent=None)`` — a ``QWidget``;
* ``show_range(clinic_id, first_day, days, columns)`` — show ``days`` local days
  (1 = day, 7 = week) of ``clinic_id`` starting at ``first_day``, one column per
  provider (``columns="provider"``) or per room (``columns="room"``);
* ``refresh()`` — reload from the local store (after a sync pull, a booking …);
* ``retranslate()`` — re-apply texts after a language switch;
* ``selected_appointment()`` — the selected appointment id or ``None``;
* signals ``selectionChanged(object)`` (id or None), ``activated(str)``
  (open the appointment), ``message(str)`` (a plain-words status message,
  e.g. a refusal reason) and ``changed()`` (the store was written, e.g. a move).

Drops from the waitlist dock use :data:`WAITLIST_MIME` with the waitlist
entry id (UTF-8) as payload.

Additions beyond the contract: ``undo()`` (the last move, resize or status
change made here), ``set_patients_hidden(bool)`` (the lock overlay hides names
without a reload), ``select(id)``, ``context_menu(id)`` (the ``QMenu`` of an
appointment), and signals ``openPatient(str)`` (a patient id) and
``pinboardRequested(str)`` (an appointment id, for the pinboard dock).

Inside: :mod:`layout` (pure overlap lanes and the DST-aware time axis),
:mod:`scene` (drawing), :mod:`view` (mouse and drop state machine),
:mod:`actions` (status, cancel, duplicate, undo) and :mod:`widget`.
"""

from __future__ import annotations

from desktop.ui.agenda.widget import WAITLIST_MIME, AgendaWidget

__all__ = ["WAITLIST_MIME", "AgendaWidget"]
