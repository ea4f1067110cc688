"""Waitlist offers and no-shows seen from the desk: the server's ``/api/v1/waitlist-offers``
and ``/api/v1/patients/{id}/no-shows`` (offers live on the server: its worker makes them
and patients accept them there). Called like the notifications API (device token naming
the signed-in user); failures are :class:`~desktop.services.notifications.NotificationsOffline`
or :class:`~desktop.services.notifications.NotificationsRefused`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from desktop.services.notifications import ask
from desktop.services.server_call import ServerCall

BASE = "/api/v1/waitlist-offers"
#: An offer's states (see sync_server/waitlist/models.py).
STATES = ("open", "accepted", "expired", "gone", "withdrawn")


@dataclass(frozen=True, slots=True)
class Offer:
    id: str
    entry_id: str
    patient_id: str
    state: str
    rank: int
    offered_by: str
    offered_at: datetime
    expires_at: datetime
    provider_id: str
    start: datetime
    end: datetime


@dataclass(frozen=True, slots=True)
class NoShows:
    """A patient's no-shows: all, within the policy's window, and whether at its limit."""

    count: int
    recent: int
    limit: int
    months: int
    at_limit: bool


def latest_by_entry(offers: list[Offer]) -> dict[str, Offer]:
    """Each entry's most recent offer."""
    latest: dict[str, Offer] = {}
    for offer in offers:
        known = latest.get(offer.entry_id)
        if known is None or offer.offered_at > known.offered_at:
            latest[offer.entry_id] = offer
    return latest


class OffersService:
    def __init__(self, call: ServerCall) -> None:
        self._call = call

    def offers(self, state: str = "all") -> list[Offer]:
        answer = ask(self._call, "GET", BASE, params={"state": state})
        return [_offer(item) for item in answer["items"]]

    def offer(self, entry_id: str, provider_id: str, start: datetime, end: datetime) -> Offer:
        """Offer this slot to the entry now (the server's rules must accept the booking)."""
        return _offer(ask(self._call, "POST", BASE, json={
            "entry_id": entry_id, "provider_id": provider_id, "start": start.isoformat(),
            "end": end.isoformat()}))

    def withdraw(self, offer_id: str) -> None:
        ask(self._call, "POST", f"{BASE}/{offer_id}/withdraw")

    def no_shows(self, patient_id: str) -> NoShows:
        answer = ask(self._call, "GET", f"/api/v1/patients/{patient_id}/no-shows")
        return NoShows(int(answer["count"]), int(answer["recent"]), int(answer["limit"]),
                       int(answer["months"]), bool(answer["at_limit"]))


def _offer(item: dict[str, Any]) -> Offer:
    return Offer(str(item["id"]), str(item["entry_id"]), str(item["patient_id"]),
                 str(item["state"]), int(item["rank"]), str(item["offered_by"]),
                 datetime.fromisoformat(item["offered_at"]),
                 datetime.fromisoformat(item["expires_at"]), str(item["provider_id"]),
                 datetime.fromisoformat(item["start"]), datetime.fromisoformat(item["end"]))
