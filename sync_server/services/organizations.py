"""Organizations and their default roles."""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from datetime import datetime
from types import MappingProxyType

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from sync_server.db.models import Organization, OrgVersion, Role, RolePermission
from sync_server.services import audit
from sync_server.services.errors import AlreadyExists, InvalidInput, NotFound

#: An EHR integration may set an appointment's encounter reference (issue 19 item 6).
ENCOUNTER_PERMISSION = "ehr:encounter"

ALL_PERMISSIONS = (
    "booking:view_calendar",
    "booking:create_appointment",
    "booking:modify_appointment",
    "booking:cancel_appointment",
    "booking:override",
    "booking:approve",
    "booking:undo",
    "patient:view",
    "patient:edit",
    "admin:config",
    "admin:users",
    "admin:devices",
    "admin:audit",
    "schedule:own",
    ENCOUNTER_PERMISSION,
)

DEFAULT_ROLES: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "administrator": ALL_PERMISSIONS,
        "receptionist": (
            "booking:view_calendar",
            "booking:create_appointment",
            "booking:modify_appointment",
            "booking:cancel_appointment",
            "booking:undo",
            "patient:view",
            "patient:edit",
        ),
        "provider": ("booking:view_calendar", "booking:modify_appointment", "booking:undo",
                     "patient:view", "schedule:own"),
        "viewer": ("booking:view_calendar",),
    }
)

_SLUG = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$")


def slugify(name: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:64].strip("-")
    return slug or "org"


def create_organization(
    session: Session, name: str, now: datetime, slug: str | None = None
) -> Organization:
    """Create an organization with its version counter, audit chain and default roles."""
    name = name.strip()
    if not name:
        raise InvalidInput("An organization needs a name.")
    slug = slug.strip().lower() if slug else slugify(name)
    if not _SLUG.match(slug):
        raise InvalidInput(
            "An organization slug uses lowercase letters, digits and dashes (at most 64)."
        )
    if session.scalar(select(Organization.id).where(Organization.slug == slug)):
        raise AlreadyExists(f"An organization with the slug '{slug}' already exists.")
    org = Organization(id=str(uuid.uuid4()), name=name, slug=slug, created_at=now)
    session.add(org)
    session.flush()
    session.add(OrgVersion(organization_id=org.id, version=0))
    audit.start_chain(session, org.id)
    for role_name, permissions in DEFAULT_ROLES.items():
        role = Role(id=str(uuid.uuid4()), organization_id=org.id, name=role_name)
        session.add(role)
        session.flush()
        session.add_all(
            RolePermission(role_id=role.id, permission=p, organization_id=org.id)
            for p in permissions
        )
    session.flush()
    audit.append(
        session,
        org.id,
        at=now,
        actor=audit.Actor(),
        intent="create_organization",
        outcome="done",
        target_type="organization",
        target_id=org.id,
    )
    return org


def find_organization(session: Session, slug_or_id: str) -> Organization | None:
    key = slug_or_id.strip()
    return session.scalars(
        select(Organization).where(or_(Organization.slug == key.lower(), Organization.id == key))
    ).first()


def get_organization(session: Session, slug_or_id: str) -> Organization:
    org = find_organization(session, slug_or_id)
    if org is None:
        raise NotFound(f"No organization '{slug_or_id}'.", code="unknown_organization")
    return org
