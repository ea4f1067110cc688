"""Departments (seed 000, 002): users belong to departments, a role may be scoped to
them, and a department-scoped user sees and books only their departments' providers
and resources.

A role marked ``department_scoped`` grants its permissions only in the departments its
user belongs to (:func:`sync_server.services.accounts.load_principal`). For such a user,
a provider, room or piece of equipment *of another department* does not exist: reading
or booking it, or an appointment with it, answers 404 with an ``access_denied`` audit
entry (reason ``other_department``), and lists and free slots leave it out. Resources
without a department are shared by the whole organization.

A scope that would hide a user's own appointments (a provider linked to the user, in a
department outside the user's) is refused with a clear message, whichever change
would cause it: the user's departments, the user's roles, a role becoming scoped, or
the provider's department.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from sync_server.db import models as db
from sync_server.services import access, audit
from sync_server.services.accounts import Principal
from sync_server.services.errors import InvalidInput

VIEW = "booking:view_calendar"


def scope(who: Principal, permission: str) -> frozenset[str] | None:
    """The departments where ``who`` holds ``permission``; None: organization-wide."""
    if permission in who.permissions:
        return None
    return who.department_permissions.get(permission, frozenset())


def granted(who: Principal) -> frozenset[str]:
    """Every permission ``who`` holds somewhere: organization-wide, or in a department
    (what the rules may let them do once the department checks here have passed)."""
    return who.permissions | {p for p, where in who.department_permissions.items() if where}


def hidden_resources(session: Session, who: Principal, permission: str = VIEW) -> set[str]:
    """Resources of departments outside ``who``'s scope (empty for organization-wide)."""
    departments = scope(who, permission)
    if departments is None:
        return set()
    return set(session.scalars(select(db.Resource.id).where(
        db.Resource.organization_id == who.organization_id,
        db.Resource.department_id.is_not(None),
        db.Resource.department_id.not_in(departments or {""}))))


def check_resources(session: Session, who: Principal, permission: str,
                    resource_ids: Iterable[str | None], now: datetime) -> None:
    """404 (audited) when one of ``resource_ids`` is outside ``who``'s departments."""
    wanted = {r for r in resource_ids if r}
    if not wanted or scope(who, permission) is None:
        return
    outside = sorted(wanted & hidden_resources(session, who, permission))
    if outside:
        raise access.outside_scope(session, who.organization_id, who.actor, now,
                                   "resource", outside[0], "other_department")


def check_appointment(session: Session, who: Principal, permission: str,
                      row: db.Appointment, now: datetime) -> None:
    """404 (audited) when the appointment's provider or room is outside ``who``'s scope."""
    if scope(who, permission) is None:
        return
    hidden = hidden_resources(session, who, permission)
    if {row.provider_id, row.room_id, *(row.equipment_ids or ())} & hidden:
        raise access.outside_scope(session, who.organization_id, who.actor, now,
                                   "appointment", row.id, "other_department")


def visible_providers(session: Session, who: Principal, requested: Iterable[str] | None,
                      now: datetime) -> tuple[str, ...] | None:
    """The providers a free-slot search may use: ``requested`` (a hidden one is an audited
    404), or for a department-scoped user without a request, every provider they see;
    None: no restriction."""
    if scope(who, VIEW) is None:
        return tuple(requested) if requested else None
    if requested:
        check_resources(session, who, VIEW, requested, now)
        return tuple(requested)
    hidden = hidden_resources(session, who)
    return tuple(sorted(set(session.scalars(select(db.Resource.id).where(
        db.Resource.organization_id == who.organization_id, db.Resource.kind == "provider")))
        - hidden))


def context(session: Session, who: Principal) -> list[dict[str, str]] | None:
    """The departments whose calendar ``who`` sees (``id``, ``name``, ``clinic_id``, by
    name), as a desk shows them; None: the whole organization."""
    seen = scope(who, VIEW)
    if seen is None:
        return None
    rows = session.scalars(select(db.Department).where(
        db.Department.organization_id == who.organization_id,
        db.Department.id.in_(sorted(seen))).order_by(db.Department.name, db.Department.id))
    return [{"id": row.id, "name": row.name, "clinic_id": row.clinic_id} for row in rows]


# --------------------------------------------------------------------------- membership


def user_departments(session: Session, user_id: str) -> list[str]:
    return sorted(session.scalars(select(db.UserDepartment.department_id).where(
        db.UserDepartment.user_id == user_id)))


def set_user_departments(session: Session, who: Principal, user_id: str,
                         department_ids: list[str], now: datetime) -> None:
    """Replace the user's departments (each of the organization; refused, nothing saved,
    when it would hide the user's own appointments). Does not commit."""
    for department_id in department_ids:
        access.get_in_organization(session, db.Department, department_id, who.organization_id,
                                   who.actor, now, target_type="department")
    session.execute(delete(db.UserDepartment).where(db.UserDepartment.user_id == user_id))
    session.add_all(db.UserDepartment(user_id=user_id, department_id=department_id,
                                      organization_id=who.organization_id)
                    for department_id in sorted(set(department_ids)))
    session.flush()
    audit.append(session, who.organization_id, at=now, actor=who.actor,
                 intent="update_user_departments", outcome="done", target_type="user",
                 target_id=user_id)


def _scoped(session: Session, user_id: str) -> bool:
    """Whether one of the user's roles is department-scoped."""
    return session.scalar(select(db.Role.id).join(
        db.UserRole, db.UserRole.role_id == db.Role.id).where(
        db.UserRole.user_id == user_id, db.Role.department_scoped.is_(True)).limit(1)) \
        is not None


def keep_own_appointments_visible(session: Session, organization_id: str,
                                  user_ids: Iterable[str] | None = None) -> None:
    """Refuse (and undo) a change after which a department-scoped user could no longer
    see the appointments of the provider linked to their own account."""
    session.flush()
    query = select(db.Resource).where(db.Resource.organization_id == organization_id,
                                      db.Resource.user_id.is_not(None),
                                      db.Resource.department_id.is_not(None))
    if user_ids is not None:
        query = query.where(db.Resource.user_id.in_(list(user_ids)))
    for provider in session.scalars(query):
        assert provider.user_id is not None and provider.department_id is not None
        if not _scoped(session, provider.user_id):
            continue
        if provider.department_id not in user_departments(session, provider.user_id):
            session.rollback()
            raise InvalidInput(
                "Refused: this department scope would hide a user's own appointments (the "
                f"provider {provider.id} linked to user {provider.user_id} belongs to "
                f"department {provider.department_id}, which is not among the user's "
                "departments). Add that department to the user, or move the provider, "
                "first.", code="scope_hides_own_appointments")


def check_provider_department(session: Session, _organization_id: str,
                              values: dict[str, object], _own_id: str | None) -> None:
    """A provider linked to a department-scoped user may only be in one of the user's
    departments (the admin record check of a resource)."""
    user_id, department_id = values.get("user_id"), values.get("department_id")
    if not isinstance(user_id, str) or not isinstance(department_id, str):
        return
    if _scoped(session, user_id) and department_id not in user_departments(session, user_id):
        raise InvalidInput(
            "Refused: this department would hide the linked user's own appointments (the "
            "user's department-scoped role does not reach it). Add the department to the "
            "user first.", code="scope_hides_own_appointments")


__all__ = [
    "check_appointment",
    "check_provider_department",
    "check_resources",
    "context",
    "hidden_resources",
    "keep_own_appointments_visible",
    "scope",
    "set_user_departments",
    "user_departments",
]
