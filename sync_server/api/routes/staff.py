"""Users and roles (``admin:users``); the rules are in :mod:`sync_server.services.staff`."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any

from fastapi import APIRouter, Depends, status
from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from scheduling import limits
from sync_server.api.deps import ContextDep, NowDep, SessionDep, require
from sync_server.api.fields import Email, Id, IdPath, text_check
from sync_server.services import staff
from sync_server.services.accounts import Principal

router = APIRouter(prefix="/admin", tags=["users and roles"])
Admin = Annotated[Principal, Depends(require(staff.ADMIN))]
Permissions = Annotated[list[Annotated[str, Field(max_length=64),
                                       AfterValidator(text_check(64))]], Field(max_length=100)]
RoleNames = Annotated[list[Annotated[str, Field(min_length=1, max_length=64),
                                     AfterValidator(text_check(64))]], Field(max_length=20)]
DepartmentIds = Annotated[list[Id], Field(max_length=100)]
DisplayName = Annotated[str, Field(max_length=limits.PERSON_NAME),
                        AfterValidator(text_check(limits.PERSON_NAME))]
REFUSALS: dict[int | str, dict[str, Any]] = {
    404: {"description": "No such record in your organization"},
    409: {"description": "A role or account with this name or e-mail already exists"},
    422: {"description": "Not valid, or it would leave nobody managing users"},
}


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RoleBody(Strict):
    name: Annotated[str, Field(min_length=1, max_length=64), AfterValidator(text_check(64))]
    permissions: Permissions = []
    mfa_required: bool = False
    department_scoped: bool = Field(
        False, description="Its permissions hold only in its users' departments")


class RolePatch(Strict):
    permissions: Permissions | None = None
    mfa_required: bool | None = None
    department_scoped: bool | None = None


class RoleOut(BaseModel):
    id: Id
    name: str
    permissions: list[str]
    mfa_required: bool
    department_scoped: bool


class UserBody(Strict):
    email: Email = Field(min_length=3)
    display_name: DisplayName = ""
    password: str = Field(min_length=1, max_length=limits.PASSWORD)
    roles: RoleNames = []
    department_ids: DepartmentIds = []


class UserPatch(Strict):
    display_name: DisplayName | None = None
    roles: RoleNames | None = None
    active: bool | None = None
    department_ids: DepartmentIds | None = None


class UserOut(BaseModel):
    id: Id
    email: str
    display_name: str
    roles: list[str]
    active: bool
    mfa_enrolled: bool
    department_ids: list[str]


@router.get("/permissions", response_model=list[str])
def list_permissions(_who: Admin, session: SessionDep) -> list[str]:
    """The permission catalogue a role can grant."""
    return staff.catalogue(session)


@router.get("/roles", response_model=list[RoleOut])
def list_roles(who: Admin, session: SessionDep) -> list[dict[str, Any]]:
    return [asdict(r) for r in staff.roles(session, who)]


@router.post("/roles", response_model=RoleOut, status_code=status.HTTP_201_CREATED,
             responses=REFUSALS)
def create_role(body: RoleBody, who: Admin, session: SessionDep,
                now: NowDep) -> dict[str, Any]:
    return asdict(staff.create_role(session, who, body.name, body.permissions,
                                    body.mfa_required, now, body.department_scoped))


@router.patch("/roles/{role_id}", response_model=RoleOut, responses=REFUSALS)
def update_role(role_id: IdPath, body: RolePatch, who: Admin, session: SessionDep,
                now: NowDep) -> dict[str, Any]:
    """Change a role's permissions or whether it requires two-step sign-in."""
    return asdict(staff.update_role(session, who, role_id, now, permissions=body.permissions,
                                    mfa_required=body.mfa_required,
                                    department_scoped=body.department_scoped))


@router.get("/users", response_model=list[UserOut])
def list_users(who: Admin, session: SessionDep) -> list[dict[str, Any]]:
    return [asdict(u) for u in staff.users(session, who)]


@router.post("/users", response_model=UserOut, status_code=status.HTTP_201_CREATED,
             responses=REFUSALS)
def create_user(body: UserBody, who: Admin, context: ContextDep, session: SessionDep,
                now: NowDep) -> dict[str, Any]:
    return asdict(staff.create_user(session, context.passwords, who, body.email,
                                    body.display_name, body.password, body.roles, now,
                                    body.department_ids))


@router.patch("/users/{user_id}", response_model=UserOut, responses=REFUSALS)
def update_user(user_id: IdPath, body: UserPatch, who: Admin, session: SessionDep,
                now: NowDep) -> dict[str, Any]:
    """Change a user's name, roles (organization-wide) or whether the account is active."""
    return asdict(staff.update_user(session, who, user_id, now, display_name=body.display_name,
                                    role_names=body.roles, active=body.active,
                                    department_ids=body.department_ids))
