"""A clinic for virtual check-in against a real server with the real clock: the portal's
clinic (tests/sync_server/portal_setup.py) in a time zone where it is daytime now, its
check-up a telemedicine visit bookable the same day, and its providers working all day
every day, so a visit starting in a few minutes can be booked by the desk's staff."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import requests
from sqlalchemy import delete
from sqlalchemy.orm import Session

from sync_server.core.config import Settings
from sync_server.db import models as db
from tests.e2e.server_side import PASSWORD
from tests.support.notify_servers import SmtpSink
from tests.sync_server.portal_setup import PortalClinic, last_code, seed_portal

#: Zones far enough apart that one of them is always between 01:00 and 22:00.
ZONES = ("Europe/Madrid", "America/New_York", "Asia/Tokyo")
CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def daytime_zone(now: datetime) -> str:
    return next(z for z in ZONES if 1 <= now.astimezone(ZoneInfo(z)).hour < 22)


def seed_telemedicine(session: Session, settings: Settings, smtp: SmtpSink,
                      codes: int = 0) -> PortalClinic:
    place = seed_portal(session, settings, smtp, codes=codes,
                        tz=daytime_zone(datetime.now(UTC)))
    kind = session.get(db.AppointmentType, place.clinic.type_id)
    assert kind is not None
    kind.telemedicine, kind.min_notice_seconds = True, 0
    session.execute(delete(db.WeeklySchedule).where(
        db.WeeklySchedule.organization_id == place.clinic.org_id))
    for provider_id in place.clinic.provider_ids:
        for weekday in range(7):
            session.add(db.WeeklySchedule(
                id=str(uuid.uuid4()), organization_id=place.clinic.org_id,
                provider_id=provider_id, clinic_id=place.clinic.clinic_id, weekday=weekday,
                start_time=time(0), end_time=time(23, 45), breaks=[]))
    session.commit()
    return place


def book_soon(base_url: str, place: PortalClinic, minutes: int = 10,
              type_id: str | None = None) -> tuple[str, datetime]:
    """Book the patient with the first provider ``minutes`` from now (whole minutes), as
    the clinic's receptionist through the REST API; (appointment id, start)."""
    start = (datetime.now(UTC) + timedelta(minutes=minutes)).replace(second=0, microsecond=0)
    http = requests.Session()
    login = http.post(f"{base_url}/api/v1/auth/login", json={
        "organization": place.clinic.org_slug, "email": place.clinic.user_email,
        "password": PASSWORD}, timeout=10)
    assert login.status_code == 200, login.text
    answer = http.post(f"{base_url}/api/v1/appointments", timeout=10, headers={
        "Authorization": f"Bearer {login.json()['access_token']}"}, json={
        "clinic_id": place.clinic.clinic_id, "patient_id": place.patient_id,
        "appointment_type_id": type_id or place.clinic.type_id,
        "provider_id": place.clinic.provider_ids[0], "start": start.isoformat()})
    assert answer.status_code == 201, answer.text
    return str(answer.json()["appointments"][0]["id"]), start


def portal_session(base_url: str, place: PortalClinic, smtp: SmtpSink) -> requests.Session:
    """A browser-like HTTP session with the patient signed in to the portal."""
    http = requests.Session()
    portal = f"{base_url}{place.base}"
    page = http.get(f"{portal}/signin", timeout=10)
    asked = http.post(f"{portal}/signin", timeout=10, data={
        "csrf": csrf(page.text), "address": place.email, "next": ""})
    assert asked.status_code == 200, asked.text
    done = http.post(f"{portal}/signin/code", timeout=10, allow_redirects=False, data={
        "csrf": csrf(asked.text), "code": last_code(smtp, place.email), "next": ""})
    assert done.status_code == 303, done.text
    return http


def csrf(page: str) -> str:
    found = CSRF.search(page)
    assert found, "the page has no CSRF token"
    return found.group(1)
