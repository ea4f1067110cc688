"""Administration and two-step sign-in from an enrolled desk against the real server: the
desk calls as itself naming the signed-in user, the server checks that user's rights, and
a saved change reaches the desk by the normal pull."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pyotp
import pytest
from sqlalchemy import update
from sqlalchemy.orm import Session

from desktop.services.admin import AdminService, TwoStepService
from desktop.services.feeds import USER_HEADER
from desktop.store.models import HolidayRow
from desktop.sync.errors import RequestRefused, TwoStepRequired
from sync_server.core.config import Settings
from sync_server.core.security import Passwords, password_hasher
from sync_server.db.models import Role
from sync_server.services import accounts
from tests.desktop.sync.conftest import Desk
from tests.e2e.server_side import PASSWORD, Clinic


def as_user(desk: Desk, user_id: str) -> AdminService:
    def call(method: str, path: str, **kwargs: Any) -> Any:
        return desk.client.call(method, path, headers={USER_HEADER: user_id}, **kwargs)

    return AdminService(call)


def test_an_administrator_on_the_desk_saves_a_holiday_that_reaches_the_desk(
        desk: Desk, clinic: Clinic, db: Session, server_settings: Settings) -> None:
    email = f"manager-{uuid.uuid4().hex[:6]}@clinic.example"
    manager = accounts.create_user(db, Passwords(password_hasher(server_settings)),
                                   clinic.org_id, email, PASSWORD, ["administrator"],
                                   datetime.now(UTC))
    db.commit()
    day = (clinic.first_day + timedelta(days=40)).isoformat()
    saved = as_user(desk, manager.id).create("/api/v1/admin/holidays", {
        "clinic_id": clinic.clinic_id, "day": day, "name": "Fiesta"})
    desk.client.pull()
    with desk.store.session() as session:
        row = session.get(HolidayRow, saved["id"])
        assert row is not None and row.day.isoformat() == day


def test_a_receptionist_on_the_desk_is_refused_in_the_servers_words(
        desk: Desk, clinic: Clinic) -> None:
    receptionist = desk.ctx.user().user_id
    with pytest.raises(RequestRefused) as refused:
        as_user(desk, receptionist).create("/api/v1/admin/holidays", {
            "clinic_id": clinic.clinic_id, "day": "2027-05-01"})
    assert refused.value.status == 403
    assert "admin:config" in refused.value.server_message


def test_a_role_requiring_two_step_sends_the_desk_user_to_enrol_first(
        desk: Desk, clinic: Clinic, db: Session) -> None:
    db.execute(update(Role).where(Role.organization_id == clinic.org_id,
                                  Role.name == "receptionist").values(mfa_required=True))
    db.commit()
    with pytest.raises(TwoStepRequired) as required:
        desk.client.check_credentials(clinic.org_slug, clinic.user_email, PASSWORD, None)
    assert "Enrol two-step sign-in" in required.value.plain()

    enrolment = TwoStepService(desk.client.call, clinic.org_slug)  # as the sign-in screen
    started = enrolment.start(clinic.user_email, PASSWORD)
    with pytest.raises(RequestRefused) as wrong:
        enrolment.confirm(clinic.user_email, PASSWORD, "000000")
    assert "does not match" in wrong.value.server_message
    codes = enrolment.confirm(clinic.user_email, PASSWORD, pyotp.TOTP(started.secret).now())
    assert len(codes) == 10
    identity = desk.client.check_credentials(clinic.org_slug, clinic.user_email, PASSWORD,
                                             codes[0])
    assert identity is not None and "receptionist" in identity.roles
