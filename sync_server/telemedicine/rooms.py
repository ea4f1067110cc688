"""Video rooms of telemedicine appointments.

stand-in, replaced by i17-visit at merge: the session log and the no-join path only need
:func:`video_url`; until the video rooms exist it answers ``None`` ("the link is not
ready").
"""

from __future__ import annotations

from sqlalchemy.orm import Session


def video_url(session: Session, appointment_id: str) -> str | None:
    """The appointment's video link, or ``None`` while it has none.

    stand-in, replaced by i17-visit at merge."""
    del session, appointment_id
    return None
