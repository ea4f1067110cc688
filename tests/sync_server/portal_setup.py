"""A clinic set up for the patient portal: the e2e clinic (Mon-Fri 09:00-17:00, Madrid)
with its check-up made online-bookable (24 h notice, 24 h cancellation period, one
reschedule), a second type that is not, a known patient with an e-mail address and a
phone, and e-mail + SMS channels pointed at a real aiosmtpd sink and a local gateway."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy.orm import Session

from sync_server.core.config import Settings
from sync_server.db import models as db
from sync_server.notifications.models import NotificationSettings
from tests.e2e.server_side import TZ, Clinic, seed_clinic
from tests.support.notify_servers import SmsGateway, SmtpSink
from tests.support.records import by_id

#: The planted patient's details: scanned for in URLs and logs.
GIVEN, FAMILY = "Zoraida", "Quintanilla"
CLINIC_PHONE = "+34 910 000 111"


@dataclass
class PortalClinic:
    clinic: Clinic
    patient_id: str
    email: str
    phone: str
    offline_type_id: str

    @property
    def org(self) -> str:
        return self.clinic.org_slug

    @property
    def base(self) -> str:
        return f"/portal/{self.clinic.org_slug}"


def seed_portal(session: Session, settings: Settings, smtp: SmtpSink,
                gateway: SmsGateway | None = None, *, codes: int = 0,
                tz: str = TZ) -> PortalClinic:
    clinic = seed_clinic(session, settings, patients=2, codes=codes, tz=tz)
    kind = session.get(db.AppointmentType, clinic.type_id)
    assert kind is not None
    kind.online_bookable = True
    kind.min_notice_seconds = 24 * 3600
    kind.cancellation_period_seconds = 24 * 3600
    kind.reschedule_limit = 1
    offline = db.AppointmentType(
        id=str(uuid.uuid4()), organization_id=clinic.org_id, name="Surgery",
        default_duration_seconds=3600, min_duration_seconds=1800, max_duration_seconds=7200,
        requirement={"providers": [], "rooms": [], "equipment": []}, online_bookable=False)
    session.add(offline)
    tag = uuid.uuid4().hex[:6]
    email = f"zoraida.{tag}@patients.example"
    phone = f"+34 611 {int(tag, 16) % 1000:03d} 222"
    patient = by_id(session, db.Patient, clinic.patient_ids[0])
    assert patient is not None
    patient.given_name, patient.family_name = GIVEN, FAMILY
    patient.email, patient.phone = email, phone
    session.add(NotificationSettings(
        organization_id=clinic.org_id, reminder_offsets=[], type_offsets={},
        clinic_phone=CLINIC_PHONE, email_enabled=True, smtp_host="127.0.0.1",
        smtp_port=smtp.port, smtp_starttls=False, email_sender="clinic@clinic.example",
        sms_enabled=gateway is not None, sms_gateway_url=gateway.url if gateway else "",
        sms_account_id=gateway.account if gateway else None,
        sms_api_key=gateway.key if gateway else None, sms_sender="+34900000000",
        updated_at=datetime.now(UTC)))
    session.commit()
    return PortalClinic(clinic, patient.id, email, phone, offline.id)


def last_code(smtp: SmtpSink, to: str) -> str:
    """The sign-in code in the last message sent to ``to``."""
    for received in reversed(smtp.messages()):
        if to in received.recipients:
            body = received.message.get_body(("plain",))
            assert body is not None
            found = re.search(r"\b(\d{6})\b", body.get_content())
            assert found, "no code in the message"
            return found.group(1)
    raise AssertionError("no message was sent to this address")
