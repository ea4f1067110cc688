"""Calendar feeds managed from the desk: the server's ``/api/v1/feeds`` API.

The desk calls it as itself (device token) naming the signed-in user, whose
permission the server checks: ``admin:config`` for every provider and room, or
``schedule:own`` for the provider linked to the user's account (the server
narrows the lists and refuses the rest). A feed's link is in the answer
that creates it and nowhere else: the server keeps only its hash.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select

from desktop.services.context import DeskContext
from desktop.services.server_call import USER_HEADER, ServerCall
from desktop.store.models import ClinicRow, ResourceRow

MANAGE = "admin:config"
OWN = "schedule:own"
__all__ = ["MANAGE", "OWN", "USER_HEADER", "CreatedFeedDTO", "FeedDTO", "FeedResource",
           "FeedsService", "ServerCall", "can_manage_feeds", "feed_resources"]


@dataclass(frozen=True, slots=True)
class FeedDTO:
    id: str
    resource_id: str
    resource_name: str
    label: str
    privacy: str
    language: str
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    last_fetched_at: datetime | None

    @property
    def active(self) -> bool:
        return self.revoked_at is None


@dataclass(frozen=True, slots=True)
class CreatedFeedDTO:
    feed: FeedDTO
    url: str  # shown once


@dataclass(frozen=True, slots=True)
class FeedResource:
    id: str
    name: str
    kind: str  # provider | room


class FeedsService:
    """List, create and revoke feeds; read whether ``full`` feeds are allowed."""

    def __init__(self, call: ServerCall) -> None:
        self._call = call

    def feeds(self) -> list[FeedDTO]:
        answer = self._call("GET", "/api/v1/feeds")
        return [_feed(item) for item in answer["feeds"]]

    def resources(self) -> list[FeedResource]:
        """The providers and rooms the signed-in user may make feeds for (a provider:
        their own calendar), as the server says."""
        answer = self._call("GET", "/api/v1/feeds/resources")
        return [FeedResource(str(r["id"]), str(r["name"]), str(r["kind"]))
                for r in answer["resources"]]

    def full_allowed(self) -> bool:
        return bool(self._call("GET", "/api/v1/feeds/policy").get("allow_full"))

    def create(self, resource_id: str, privacy: str, label: str,
               language: str) -> CreatedFeedDTO:
        answer = self._call("POST", "/api/v1/feeds", json={
            "resource_id": resource_id, "privacy": privacy, "label": label,
            "language": language})
        return CreatedFeedDTO(_feed(answer["feed"]), str(answer["url"]))

    def failing_busy_calendars(self) -> list[tuple[str, str]]:
        """(provider id, the reason) of every external busy calendar whose last read
        failed: shown, never silently ignored."""
        answer = self._call("GET", "/api/v1/feeds/busy-calendars")
        return [(str(s["provider_id"]), str(s["error"])) for s in answer["busy_calendars"]
                if not s.get("ok", True)]

    def revoke(self, feed_id: str) -> FeedDTO:
        return _feed(self._call("POST", f"/api/v1/feeds/{feed_id}/revoke")["feed"])


def can_manage_feeds(ctx: DeskContext) -> bool:
    """Every feed (administrator) or their own calendar's (``schedule:own``)."""
    granted = ctx.user().permissions
    return MANAGE in granted or OWN in granted


def manages_every_feed(ctx: DeskContext) -> bool:
    return MANAGE in ctx.user().permissions


def feed_resources(ctx: DeskContext) -> list[FeedResource]:
    """The providers and rooms a feed can be made for, providers first, by name."""
    with ctx.store.session() as session:
        rows = session.scalars(select(ResourceRow).where(
            ResourceRow.kind.in_(("provider", "room")), ResourceRow.active.is_(True)))
        found = [FeedResource(r.id, r.name, r.kind) for r in rows]
    return sorted(found, key=lambda r: (r.kind != "provider", r.name.casefold()))


def clinic_zone(ctx: DeskContext, clinic_id: str) -> tuple[str, str]:
    """The clinic's time zone and locale, as the feeds dialog shows times (UTC, en_US
    for a clinic this desk does not know)."""
    with ctx.store.session() as session:
        clinic = session.get(ClinicRow, clinic_id)
        return (clinic.time_zone, clinic.locale) if clinic else ("UTC", "en_US")


def _feed(item: dict[str, Any]) -> FeedDTO:
    def when(value: Any) -> datetime | None:
        return datetime.fromisoformat(value) if value else None

    created = when(item.get("created_at"))
    assert created is not None
    return FeedDTO(str(item["id"]), str(item["resource_id"]), str(item.get("resource_name", "")),
                   str(item.get("label", "")), str(item["privacy"]),
                   str(item.get("language", "en")), created, when(item.get("expires_at")),
                   when(item.get("revoked_at")), when(item.get("last_fetched_at")))
