"""Calendar feeds: tokens, the organization's policy, creating, listing and revoking.

Tokens are 256 random bits (``secrets.token_urlsafe(32)``), shown once at
creation; the database keeps their SHA-256. A revoked, expired, unknown or
malformed token all answer the same bare 404 (serving: :mod:`sync_server.feeds.serving`).
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from scheduling.ical import Privacy
from sync_server.db import models as db
from sync_server.feeds.models import CalendarFeed, CalendarFeedFetch, CalendarFeedPolicy
from sync_server.feeds.versions import bump_feeds

TOKEN_BYTES = 32
LANGUAGES = ("en", "es")
MEDIA_TYPE = "text/calendar; charset=utf-8"


class FeedError(Exception):
    """A request about feeds that cannot be done; ``code`` is stable, the message says why."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


# --------------------------------------------------------------------------- tokens


def new_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


# --------------------------------------------------------------------------- policy


@dataclass(frozen=True, slots=True)
class Policy:
    allow_full: bool = False
    past_days: int = 30
    ahead_days: int = 365
    cancelled_visible_days: int = 14
    refresh_minutes: int = 15


def policy_of(session: Session, organization_id: str) -> Policy:
    row = session.get(CalendarFeedPolicy, organization_id)
    if row is None:
        return Policy()
    return Policy(row.allow_full, row.past_days, row.ahead_days, row.cancelled_visible_days,
                  row.refresh_minutes)


def set_policy(session: Session, organization_id: str, policy: Policy) -> Policy:
    """Store the organization's feed policy; every feed's version moves (its content may).
    Forbidding ``full`` turns existing ``full`` feeds into ``initials`` feeds."""
    row = session.get(CalendarFeedPolicy, organization_id)
    if row is None:
        row = CalendarFeedPolicy(organization_id=organization_id)
        session.add(row)
    row.allow_full = policy.allow_full
    row.past_days = policy.past_days
    row.ahead_days = policy.ahead_days
    row.cancelled_visible_days = policy.cancelled_visible_days
    row.refresh_minutes = policy.refresh_minutes
    feeds = session.scalars(select(CalendarFeed).where(
        CalendarFeed.organization_id == organization_id))
    ids = []
    for feed in feeds:
        if not policy.allow_full and feed.privacy == Privacy.FULL:
            feed.privacy = Privacy.INITIALS.value
        ids.append(feed.id)
    session.flush()
    bump_feeds(session, ids)
    return policy


# --------------------------------------------------------------------------- management


@dataclass(frozen=True, slots=True)
class FeedInfo:
    """A feed as its managers see it (never the token)."""

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
    fetches: int

    def to_json(self) -> dict[str, Any]:
        def when(value: datetime | None) -> str | None:
            return value.isoformat() if value is not None else None

        return {"id": self.id, "resource_id": self.resource_id,
                "resource_name": self.resource_name, "label": self.label,
                "privacy": self.privacy, "language": self.language,
                "created_at": when(self.created_at), "expires_at": when(self.expires_at),
                "revoked_at": when(self.revoked_at), "last_fetched_at": when(self.last_fetched_at),
                "fetches": self.fetches}


@dataclass(frozen=True, slots=True)
class CreatedFeed:
    feed: FeedInfo
    token: str  # shown once: only its hash is kept

    def path(self) -> str:
        return feed_path(self.token)


def feed_path(token: str) -> str:
    return f"/feeds/{token}.ics"


def create_feed(session: Session, organization_id: str, resource_id: str, now: datetime, *,
                privacy: str = Privacy.BUSY.value, label: str = "", language: str = "en",
                expires_at: datetime | None = None,
                created_by_user_id: str | None = None) -> CreatedFeed:
    """A new feed for a provider or room of the organization, and its token (shown once)."""
    resource = session.get(db.Resource, resource_id)
    if resource is None or resource.organization_id != organization_id \
            or resource.kind not in ("provider", "room"):
        raise FeedError("unknown_resource", "There is no such provider or room.")
    if privacy not in {p.value for p in Privacy}:
        raise FeedError("bad_privacy", "The privacy level must be busy, initials or full.")
    if privacy == Privacy.FULL and not policy_of(session, organization_id).allow_full:
        raise FeedError("full_not_allowed",
                        "This organization does not allow feeds with patient names; "
                        "choose busy or initials, or ask an administrator to allow them.")
    if language not in LANGUAGES:
        raise FeedError("bad_language", "The language must be en or es.")
    if expires_at is not None and expires_at <= now:
        raise FeedError("bad_expiry", "The expiry must be in the future.")
    token = new_token()
    row = CalendarFeed(id=str(uuid.uuid4()), organization_id=organization_id,
                       resource_id=resource_id, label=label.strip()[:200],
                       token_hash=hash_token(token), privacy=privacy, language=language,
                       created_at=now, created_by_user_id=created_by_user_id,
                       expires_at=expires_at, version=1, changed_at=now)
    session.add(row)
    session.flush()
    return CreatedFeed(_info(row, resource.name, None, 0), token)


@dataclass(frozen=True, slots=True)
class FeedResource:
    id: str
    name: str
    kind: str  # provider | room


def feed_resources(session: Session, organization_id: str,
                   within: Collection[str] | None = None) -> list[FeedResource]:
    """The active providers and rooms a feed can be made for (``within``: only those),
    providers first, by name."""
    query = select(db.Resource.id, db.Resource.name, db.Resource.kind).where(
        db.Resource.organization_id == organization_id, db.Resource.active.is_(True),
        db.Resource.kind.in_(("provider", "room")))
    if within is not None:
        query = query.where(db.Resource.id.in_(list(within)))
    found = [FeedResource(*row) for row in session.execute(query)]
    return sorted(found, key=lambda r: (r.kind != "provider", r.name.casefold()))


def list_feeds(session: Session, organization_id: str, resource_id: str | None = None, *,
               within: Collection[str] | None = None) -> list[FeedInfo]:
    """The organization's feeds (``within``: only those of these resources)."""
    query = (select(CalendarFeed, db.Resource.name)
             .join(db.Resource, db.Resource.id == CalendarFeed.resource_id)
             .where(CalendarFeed.organization_id == organization_id)
             .order_by(CalendarFeed.created_at, CalendarFeed.id))
    if resource_id is not None:
        query = query.where(CalendarFeed.resource_id == resource_id)
    if within is not None:
        query = query.where(CalendarFeed.resource_id.in_(list(within)))
    rows = session.execute(query).all()
    fetched = dict(session.execute(
        select(CalendarFeedFetch.feed_id,
               func.max(CalendarFeedFetch.at)).where(
            CalendarFeedFetch.organization_id == organization_id,
            CalendarFeedFetch.status.in_((200, 304)))
        .group_by(CalendarFeedFetch.feed_id)).all())
    counts = dict(session.execute(
        select(CalendarFeedFetch.feed_id, func.count()).where(
            CalendarFeedFetch.organization_id == organization_id)
        .group_by(CalendarFeedFetch.feed_id)).all())
    return [_info(feed, name, fetched.get(feed.id), counts.get(feed.id, 0))
            for feed, name in rows]


def revoke_feed(session: Session, organization_id: str, feed_id: str, now: datetime) -> FeedInfo:
    """Revoke a feed: its URL answers 404 from now on (revoking twice is harmless)."""
    row = session.get(CalendarFeed, feed_id)
    if row is None or row.organization_id != organization_id:
        raise FeedError("unknown_feed", "There is no such calendar feed.")
    if row.revoked_at is None:
        row.revoked_at = now
        row.version += 1
        row.changed_at = now
    session.flush()
    resource = session.get(db.Resource, row.resource_id)
    return _info(row, resource.name if resource else "", None, 0)


def _info(row: CalendarFeed, resource_name: str, last_fetched: datetime | None,
          fetches: int) -> FeedInfo:
    return FeedInfo(row.id, row.resource_id, resource_name, row.label, row.privacy,
                    row.language, row.created_at, row.expires_at, row.revoked_at,
                    last_fetched, fetches)
