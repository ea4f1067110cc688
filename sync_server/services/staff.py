"""Users and roles of an organization, administered (``admin:users``).

A role is a named set of permissions from the catalogue and may require a second
factor at sign-in. No change may leave the organization without an active user
holding ``admin:users`` (nobody could repair it from the desk): such a change is
refused as a whole, like every invalid one. Every change is audited.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from sync_server.core.security import Passwords
from sync_server.db.models import Permission, Role, RolePermission, User, UserRole
from sync_server.services import access, accounts, audit, departments
from sync_server.services.accounts import Principal
from sync_server.services.errors import AlreadyExists, InvalidInput

ADMIN = "admin:users"


@dataclass(frozen=True, slots=True)
class RoleOut:
    id: str
    name: str
    permissions: list[str]
    mfa_required: bool
    department_scoped: bool = False


@dataclass(frozen=True, slots=True)
class UserOut:
    id: str
    email: str
    display_name: str
    roles: list[str]
    active: bool
    mfa_enrolled: bool
    department_ids: list[str]


def catalogue(session: Session) -> list[str]:
    return sorted(session.scalars(select(Permission.code)))


def roles(session: Session, who: Principal) -> list[RoleOut]:
    rows = session.scalars(select(Role).where(Role.organization_id == who.organization_id)
                           .order_by(Role.name))
    return [_role(session, row) for row in rows]


def create_role(session: Session, who: Principal, name: str, permissions: list[str],
                mfa_required: bool, now: datetime, department_scoped: bool = False) -> RoleOut:
    name = name.strip()
    if not name:
        raise InvalidInput("A role needs a name.")
    if session.scalar(select(Role.id).where(Role.organization_id == who.organization_id,
                                            Role.name == name)):
        raise AlreadyExists("A role with this name already exists.")
    row = Role(id=str(uuid.uuid4()), organization_id=who.organization_id, name=name,
               mfa_required=mfa_required, department_scoped=department_scoped)
    session.add(row)
    session.flush()
    _grant(session, row, permissions)
    return _done(session, who, now, "create_role", row)


def update_role(session: Session, who: Principal, role_id: str, now: datetime, *,
                permissions: list[str] | None = None, mfa_required: bool | None = None,
                department_scoped: bool | None = None) -> RoleOut:
    row = access.get_in_organization(session, Role, role_id, who.organization_id, who.actor,
                                     now, target_type="role")
    if permissions is not None:
        session.execute(delete(RolePermission).where(RolePermission.role_id == row.id))
        _grant(session, row, permissions)
    if mfa_required is not None:
        row.mfa_required = mfa_required
    if department_scoped is not None:
        row.department_scoped = department_scoped
    _keep_an_administrator(session, who.organization_id)
    departments.keep_own_appointments_visible(session, who.organization_id)
    return _done(session, who, now, "update_role", row)


def users(session: Session, who: Principal) -> list[UserOut]:
    rows = session.scalars(select(User).where(User.organization_id == who.organization_id)
                           .order_by(User.email))
    return [_user(session, row) for row in rows]


def create_user(session: Session, passwords: Passwords, who: Principal, email: str,
                display_name: str, password: str, role_names: list[str], now: datetime,
                department_ids: list[str] | None = None) -> UserOut:
    row = accounts.create_user(session, passwords, who.organization_id, email, password,
                               role_names, now, display_name=display_name.strip(),
                               actor=who.actor)
    if department_ids:
        departments.set_user_departments(session, who, row.id, department_ids, now)
    session.commit()
    return _user(session, row)


def update_user(session: Session, who: Principal, user_id: str, now: datetime, *,
                display_name: str | None = None, role_names: list[str] | None = None,
                active: bool | None = None, department_ids: list[str] | None = None
                ) -> UserOut:
    row = access.get_in_organization(session, User, user_id, who.organization_id, who.actor,
                                     now, target_type="user")
    if display_name is not None:
        row.display_name = display_name.strip()
    if active is not None:
        row.active = active
    if role_names is not None:
        found = {r.name: r.id for r in session.scalars(select(Role).where(
            Role.organization_id == who.organization_id, Role.name.in_(role_names)))}
        missing = sorted(set(role_names) - set(found))
        if missing:
            session.rollback()
            raise InvalidInput(f"Unknown role(s): {', '.join(missing)}.", code="unknown_role")
        session.execute(delete(UserRole).where(UserRole.user_id == row.id,
                                               UserRole.department_id.is_(None)))
        session.add_all(UserRole(id=str(uuid.uuid4()), organization_id=who.organization_id,
                                 user_id=row.id, role_id=role_id)
                        for role_id in sorted(set(found.values())))
    if department_ids is not None:
        departments.set_user_departments(session, who, row.id, department_ids, now)
    session.flush()
    _keep_an_administrator(session, who.organization_id)
    departments.keep_own_appointments_visible(session, who.organization_id, [row.id])
    audit.append(session, who.organization_id, at=now, actor=who.actor, intent="update_user",
                 outcome="done", target_type="user", target_id=row.id)
    session.commit()
    return _user(session, row)


def _grant(session: Session, row: Role, permissions: list[str]) -> None:
    unknown = sorted(set(permissions) - set(catalogue(session)))
    if unknown:
        session.rollback()
        raise InvalidInput(f"Unknown permission(s): {', '.join(unknown)}.",
                           code="unknown_permission")
    session.add_all(RolePermission(role_id=row.id, permission=p,
                                   organization_id=row.organization_id)
                    for p in sorted(set(permissions)))
    session.flush()


def _keep_an_administrator(session: Session, organization_id: str) -> None:
    """Refuse (and undo) a change after which no active user holds ``admin:users``."""
    session.flush()
    left = session.scalar(
        select(func.count(func.distinct(User.id)))
        .join(UserRole, UserRole.user_id == User.id)
        .join(RolePermission, RolePermission.role_id == UserRole.role_id)
        .where(User.organization_id == organization_id, User.active.is_(True),
               UserRole.department_id.is_(None), RolePermission.permission == ADMIN))
    if not left:
        session.rollback()
        raise InvalidInput(
            "Refused: after this change no active user could manage users and roles (the "
            "'admin:users' permission). Give that permission to someone else first.",
            code="last_administrator")


def _done(session: Session, who: Principal, now: datetime, intent: str, row: Role) -> RoleOut:
    audit.append(session, who.organization_id, at=now, actor=who.actor, intent=intent,
                 outcome="done", target_type="role", target_id=row.id)
    session.commit()
    return _role(session, row)


def _role(session: Session, row: Role) -> RoleOut:
    granted = sorted(session.scalars(select(RolePermission.permission)
                                     .where(RolePermission.role_id == row.id)))
    return RoleOut(row.id, row.name, granted, bool(row.mfa_required),
                   bool(row.department_scoped))


def _user(session: Session, row: User) -> UserOut:
    names = sorted(set(session.scalars(select(Role.name).join(UserRole,
                                                               UserRole.role_id == Role.id)
                                       .where(UserRole.user_id == row.id))))
    return UserOut(row.id, row.email, row.display_name, names, row.active,
                   row.totp_secret is not None, departments.user_departments(session, row.id))
