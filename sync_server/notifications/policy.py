"""An organization's notification policy, read from ``notification_settings`` (defaults
when it has no row): reminder offsets per appointment type, quiet hours, fallback
delay, channels and their credentials."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import time
from typing import Any

from sqlalchemy.orm import Session

from scheduling.reminders import parse_clock
from sync_server.notifications.models import NotificationSettings
from sync_server.services.calendar.config_cache import kept_setting

DEFAULT_OFFSETS = (1440, 120)


@dataclass(frozen=True, slots=True)
class Policy:
    reminder_offsets: tuple[int, ...] = DEFAULT_OFFSETS
    type_offsets: dict[str, tuple[int, ...]] = field(default_factory=dict)
    quiet: tuple[time, time] | None = None
    fallback_delay_minutes: int = 15
    notice_delay_seconds: int = 60
    reply_link_hours: int = 72
    public_base_url: str = ""
    clinic_phone: str = ""
    email_enabled: bool = False
    sms_enabled: bool = False

    def offsets_for(self, appointment_type_id: str | None) -> tuple[int, ...]:
        if appointment_type_id and appointment_type_id in self.type_offsets:
            return self.type_offsets[appointment_type_id]
        return self.reminder_offsets

    def enabled(self, channel: str) -> bool:
        return {"email": self.email_enabled, "sms": self.sms_enabled}.get(channel, False)


def policy_of(session: Session, organization_id: str) -> Policy:
    row = session.get(NotificationSettings, organization_id)
    if row is None:
        return Policy()
    return policy_from_row(row)


def kept_policy(session: Session, organization_id: str) -> Policy:
    """:func:`policy_of` for the booking path: kept between requests while the
    organization's configuration counter stays the same (migration 0024 counts the
    writes to ``notification_settings``), so a booking reads no settings row."""
    def read() -> Policy:
        # The table, not a row this session may hold from an earlier transaction.
        row = session.get(NotificationSettings, organization_id, populate_existing=True)
        return Policy() if row is None else policy_from_row(row)

    return kept_setting(session, "notification_policy", organization_id, read)


def policy_from_row(row: NotificationSettings) -> Policy:
    quiet = None
    if row.quiet_start and row.quiet_end:
        quiet = (parse_clock(row.quiet_start), parse_clock(row.quiet_end))
    types: dict[str, Any] = row.type_offsets or {}
    return Policy(
        reminder_offsets=tuple(int(m) for m in row.reminder_offsets),
        type_offsets={key: tuple(int(m) for m in value) for key, value in types.items()},
        quiet=quiet, fallback_delay_minutes=row.fallback_delay_minutes,
        notice_delay_seconds=row.notice_delay_seconds, reply_link_hours=row.reply_link_hours,
        public_base_url=row.public_base_url, clinic_phone=row.clinic_phone,
        email_enabled=row.email_enabled, sms_enabled=row.sms_enabled)
