"""The portal's side of the seed-004 booking hand-off.

A deep link with ``returnUrl`` and ``state`` is checked and recorded by
:mod:`sync_server.fhir.handoff` (the registered clients' allow-lists); the hand-off's
id then lives in the visitor's server-side portal session, never in later URLs. When
the patient finishes (booked, cancelled, or gives up), the browser is sent to the URL
:func:`sync_server.fhir.handoff.finish` builds (state, outcome, refs, result token).
Refusals there are audited by that module; the portal only shows them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import urlencode

from fastapi.responses import RedirectResponse, Response

from scheduling.refusals import N_
from sync_server.fhir import handoff

if TYPE_CHECKING:
    from sync_server.portal.visit import Visit


def start(v: Visit, return_url: str, state: str) -> Response:
    """Begin a hand-off, keep its id in the session and show the page asked for again
    without ``returnUrl`` and ``state`` (the search, or a published slot's booking page)."""
    try:
        begun = handoff.begin(v.db, v.org.id, return_url, state, now=v.now)
    except handoff.HandoffRefused:
        return v.show_problem(400, N_(
            "The app that sent you here is not allowed to use this booking page. "
            "Please book with the clinic directly."))
    v.session_row().handoff_id = begun.id
    kept = [(k, value) for k, value in v.request.query_params.multi_items()
            if k not in ("returnUrl", "state")]
    return v.finish(RedirectResponse(
        v.request.url.path + (f"?{urlencode(kept)}" if kept else ""), status_code=303))


def finish(v: Visit, outcome: str, *, reason: str | None = None,
           appointment_id: str | None = None, fallback: str = "/") -> Response:
    """Send the patient back to the app with the outcome; the hand-off ends here. An
    expired or finished hand-off leaves the patient in the portal (at ``fallback``)."""
    assert v.portal is not None and v.portal.handoff_id
    handoff_id, v.portal.handoff_id = v.portal.handoff_id, None
    try:
        url = handoff.finish(v.db, handoff_id, outcome=outcome, reason=reason,
                             appointment_id=appointment_id, now=v.now)
    except handoff.HandoffRefused:
        v.portal.handoff_id = None
        return v.to(fallback)
    return v.finish(RedirectResponse(url, status_code=303))
