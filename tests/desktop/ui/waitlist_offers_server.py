"""Waitlist entries added on a real desk, sent to a real server, and offers made there (by
hand through the desk's offers API, and one left to expire), for the waitlist dock's tests
and screenshots."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

from sqlalchemy import select

from desktop.services import waitlist
from desktop.services.offers import OffersService
from desktop.services.server_call import signed_in_call
from sync_server.waitlist.models import WaitlistOffer
from tests.desktop.ui.notifications_server import LiveNotifications


def offers_service(live: LiveNotifications) -> OffersService:
    return OffersService(signed_in_call(live.client, live.ctx.sessions))


def add_entries(live: LiveNotifications) -> list[str]:
    """Three entries, sent: patient 0 (priority 3, mornings on Tuesdays and Thursdays),
    patient 1 (with provider 0), patient 2 (no wishes). Their ids, in that order."""
    clinic = live.clinic
    ids = []
    for patient, options in ((0, {"priority": 3, "preferred_weekdays": (1, 3),
                                  "preferred_times": ((time(9), time(12)),)}),
                             (1, {"preferred_provider_ids": (clinic.provider_ids[0],)}),
                             (2, {})):
        result = waitlist.add(live.ctx, clinic_id=clinic.clinic_id,
                              patient_id=clinic.patient_ids[patient],
                              appointment_type_id=clinic.type_id, **options)  # type: ignore[arg-type]
        assert result.ok, result.refusal
        ids.append(str(result.record_id))
    live.client.sync_once()
    return ids


def expire_offers_of(live: LiveNotifications, entry_id: str) -> None:
    """The entry's open offers ran out (as the worker's offer step leaves them)."""
    with live.database() as session:
        for offer in session.scalars(select(WaitlistOffer).where(
                WaitlistOffer.entry_id == entry_id, WaitlistOffer.state == "open")):
            offer.state, offer.answered_at = "expired", datetime.now(UTC)
            offer.expires_at = min(offer.expires_at, datetime.now(UTC) - timedelta(minutes=1))
        session.commit()


def offers_on_server(live: LiveNotifications, entry_id: str) -> list[WaitlistOffer]:
    with live.database() as session:
        found = list(session.scalars(select(WaitlistOffer).where(
            WaitlistOffer.entry_id == entry_id)))
        session.expunge_all()
        session.rollback()
    return found
