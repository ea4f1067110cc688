from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, status
from pydantic import BaseModel, ConfigDict, Field

from sync_server.api.deps import ContextDep, CurrentDevice, NowDep, SessionDep, require
from sync_server.api.fields import Label
from sync_server.services import devices
from sync_server.services.accounts import Principal

router = APIRouter(prefix="/devices", tags=["devices"])

DeviceAdmin = Annotated[Principal, Depends(require("admin:devices"))]


class EnrollRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    code: str = Field(min_length=1, max_length=64)
    name: Label = Field(default="", description="A label such as 'Front desk 2'")


class EnrollResponse(BaseModel):
    device_id: str
    client_id: str
    organization_id: str
    device_token: str


class EnrollmentCodeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    ttl_hours: int | None = Field(default=None, ge=1, le=24 * 14)


class EnrollmentCodeResponse(BaseModel):
    code: str
    expires_at: datetime


class DeviceOut(BaseModel):
    device_id: str
    client_id: str
    organization_id: str
    name: str
    created_at: datetime
    last_seen: datetime | None
    revoked_at: datetime | None

    @classmethod
    def of(cls, device: devices.DeskDevice) -> DeviceOut:
        return cls(
            device_id=device.id,
            client_id=device.client_id,
            organization_id=device.organization_id,
            name=device.name,
            created_at=device.created_at,
            last_seen=device.last_seen,
            revoked_at=device.revoked_at,
        )


@router.post("/enroll", response_model=EnrollResponse, status_code=status.HTTP_201_CREATED)
def enroll(body: EnrollRequest, session: SessionDep, now: NowDep) -> EnrollResponse:
    """Turn a one-time enrollment code into this desk's credential and client id."""
    result = devices.enroll(session, body.code, body.name, now)
    return EnrollResponse(
        device_id=result.device_id,
        client_id=result.client_id,
        organization_id=result.organization_id,
        device_token=result.device_token,
    )


@router.post(
    "/enrollment-codes",
    response_model=EnrollmentCodeResponse,
    status_code=status.HTTP_201_CREATED,
)
def create_enrollment_code(
    body: EnrollmentCodeRequest,
    admin: DeviceAdmin,
    context: ContextDep,
    session: SessionDep,
    now: NowDep,
) -> EnrollmentCodeResponse:
    """Issue a one-time code for enrolling a desk (shown once)."""
    hours = body.ttl_hours or context.settings.enrollment_code_hours
    code, expires = devices.create_enrollment_code(
        session, admin.organization_id, now, timedelta(hours=hours), admin.actor
    )
    session.commit()
    return EnrollmentCodeResponse(code=code, expires_at=expires)


@router.get("/me", response_model=DeviceOut)
def current_device(device: CurrentDevice) -> DeviceOut:
    """The desk identified by its device token."""
    return DeviceOut.of(device)


@router.post("/{device_id}/revoke", response_model=DeviceOut)
def revoke(device_id: str, admin: DeviceAdmin, session: SessionDep, now: NowDep) -> DeviceOut:
    """Revoke a desk: its token stops working at once."""
    return DeviceOut.of(devices.revoke(session, admin.organization_id, device_id, now,
                                       admin.actor))
