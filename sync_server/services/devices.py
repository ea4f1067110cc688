"""Desk enrollment: one-time codes → device credentials; revocation."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from sync_server.core.security import (
    new_enrollment_code,
    new_opaque_token,
    normalize_enrollment_code,
    token_digest,
)
from sync_server.db.models import Device, EnrollmentCode
from sync_server.services import access, audit
from sync_server.services.errors import AuthenticationFailed, NotFound

#: ``last_seen`` is refreshed at most this often, so authenticating is not a write each time.
LAST_SEEN_RESOLUTION = timedelta(minutes=5)


@dataclass(frozen=True, slots=True)
class DeskDevice:
    """An enrolled desk as the API sees it (no ORM row leaves the services)."""

    id: str
    client_id: str
    organization_id: str
    name: str
    created_at: datetime
    last_seen: datetime | None
    revoked_at: datetime | None

    @classmethod
    def of(cls, row: Device) -> DeskDevice:
        return cls(row.id, row.client_id, row.organization_id, row.name, row.created_at,
                   row.last_seen, row.revoked_at)


@dataclass(frozen=True, slots=True)
class Enrollment:
    device_id: str
    client_id: str
    organization_id: str
    device_token: str


def create_enrollment_code(
    session: Session, organization_id: str, now: datetime, ttl: timedelta, actor: audit.Actor
) -> tuple[str, datetime]:
    """A new one-time code (shown once, stored hashed) and its expiry."""
    code = new_enrollment_code()
    expires = now + ttl
    record = EnrollmentCode(
        id=str(uuid.uuid4()),
        organization_id=organization_id,
        code_hash=token_digest(normalize_enrollment_code(code)),
        created_by_user_id=actor.user_id,
        created_at=now,
        expires_at=expires,
    )
    session.add(record)
    audit.append(
        session,
        organization_id,
        at=now,
        actor=actor,
        intent="create_enrollment_code",
        outcome="done",
        target_type="enrollment_code",
        target_id=record.id,
    )
    return code, expires


def enroll(session: Session, code: str, name: str, now: datetime) -> Enrollment:
    """Redeem ``code`` exactly once (a conditional UPDATE, so two desks cannot both win)."""
    claimed = session.execute(
        update(EnrollmentCode)
        .where(
            EnrollmentCode.code_hash == token_digest(normalize_enrollment_code(code)),
            EnrollmentCode.used_at.is_(None),
            EnrollmentCode.expires_at > now,
        )
        .values(used_at=now)
        .returning(EnrollmentCode.id, EnrollmentCode.organization_id)
    ).first()
    if claimed is None:
        session.rollback()
        raise AuthenticationFailed(
            "This enrollment code is unknown, expired or already used; "
            "ask an administrator for a new one.",
            code="invalid_enrollment_code",
        )
    code_id, organization_id = claimed
    token = new_opaque_token()
    device = Device(
        id=str(uuid.uuid4()),
        organization_id=organization_id,
        client_id=str(uuid.uuid4()),
        name=name.strip()[:200],
        token_hash=token_digest(token),
        created_at=now,
        last_seen=now,
    )
    session.add(device)
    session.flush()
    session.execute(
        update(EnrollmentCode).where(EnrollmentCode.id == code_id).values(device_id=device.id)
    )
    audit.append(
        session,
        organization_id,
        at=now,
        actor=audit.Actor(device_id=device.id),
        intent="enroll_device",
        outcome="done",
        target_type="device",
        target_id=device.id,
    )
    session.commit()
    return Enrollment(device.id, device.client_id, organization_id, token)


def authenticate_device(session: Session, token: str, now: datetime) -> Device:
    device = session.scalars(select(Device).where(Device.token_hash == token_digest(token))).first()
    if device is None:
        raise AuthenticationFailed("This desk is not enrolled.", code="unknown_device")
    if device.revoked_at is not None:
        raise AuthenticationFailed(
            "This desk's access was revoked; an administrator must enroll it again.",
            code="device_revoked",
        )
    if device.last_seen is None or now - device.last_seen > LAST_SEEN_RESOLUTION:
        device.last_seen = now
        session.commit()
    return device


def authenticate(session: Session, token: str, now: datetime) -> DeskDevice:
    """:func:`authenticate_device`, as the API sees the desk."""
    return DeskDevice.of(authenticate_device(session, token, now))


def revoke(
    session: Session, organization_id: str, device_id: str, now: datetime, actor: audit.Actor
) -> DeskDevice:
    """Revoke the organization's desk ``device_id`` (another organization's is answered as
    unknown, with an ``access_denied`` audit entry)."""
    device = access.get_in_organization(session, Device, device_id, organization_id, actor,
                                        now, target_type="device")
    return DeskDevice.of(revoke_device(session, organization_id, device, now, actor))


def revoke_device(
    session: Session, organization_id: str, device: Device, now: datetime, actor: audit.Actor
) -> Device:
    if device.organization_id != organization_id:
        raise NotFound("No such device.")
    if device.revoked_at is None:
        device.revoked_at = now
        audit.append(
            session,
            organization_id,
            at=now,
            actor=actor,
            intent="revoke_device",
            outcome="done",
            target_type="device",
            target_id=device.id,
        )
    session.commit()
    return device


def find_device_by_client_id(session: Session, organization_id: str, client_id: str) -> Device:
    device = session.scalars(
        select(Device).where(
            Device.organization_id == organization_id, Device.client_id == client_id
        )
    ).first()
    if device is None:
        raise NotFound("No desk with this client id in the organization.", code="unknown_device")
    return device
