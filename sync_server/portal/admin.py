"""The portal's admin API: the sites allowed to frame the booking widget, as one list
(``/portal/settings``) or as records for the desk's Administration screens
(``/portal/widget-sites``)."""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends
from fastapi.responses import Response
from pydantic import AfterValidator, BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from sync_server.api.deps import NowDep, SessionDep, require
from sync_server.api.fields import text_check
from sync_server.portal.models import PortalSettings
from sync_server.services.accounts import Principal
from sync_server.services.errors import InvalidInput, NotFound

admin_router = APIRouter(prefix="/portal", tags=["portal"])
Admin = Annotated[Principal, Depends(require("admin:config"))]
MAX_WIDGET_SITES = 20

def _origin(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("https", "http") or not parts.netloc or parts.path not in ("", "/") \
            or parts.query or parts.fragment or any(c in value for c in " ;,'\""):
        raise ValueError("a site is an origin such as https://clinic.example")
    return f"{parts.scheme}://{parts.netloc}"


Site = Annotated[str, Field(max_length=200), AfterValidator(text_check(200)),
                 AfterValidator(_origin)]


class PortalSettingsBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    widget_sites: Annotated[list[Site], Field(max_length=MAX_WIDGET_SITES)]


@admin_router.get("/settings", response_model=PortalSettingsBody)
def get_settings(user: Admin, session: SessionDep) -> PortalSettingsBody:
    """The sites allowed to embed the booking widget (empty: not embeddable)."""
    row = session.get(PortalSettings, user.organization_id)
    return PortalSettingsBody(widget_sites=list(row.widget_sites) if row else [])


@admin_router.put("/settings", response_model=PortalSettingsBody)
def put_settings(body: PortalSettingsBody, user: Admin, session: SessionDep,
                 now: NowDep) -> PortalSettingsBody:
    row = _sites(session, user.organization_id, now)
    _save_sites(row, body.widget_sites, now)
    session.commit()
    return PortalSettingsBody(widget_sites=list(row.widget_sites))


class WidgetSite(BaseModel):
    """One allowed site as a record of the desk's Administration screens."""

    id: str
    site: str


class WidgetSiteBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    site: Site


def _site_id(site: str) -> str:
    return hashlib.sha256(site.encode()).hexdigest()[:16]


def _sites(session: Session, organization_id: str, now: datetime) -> PortalSettings:
    row = session.get(PortalSettings, organization_id)
    if row is None:
        row = PortalSettings(organization_id=organization_id, widget_sites=[], updated_at=now)
        session.add(row)
    return row


def _site_records(row: PortalSettings) -> list[WidgetSite]:
    return [WidgetSite(id=_site_id(site), site=site) for site in row.widget_sites]


def _without(row: PortalSettings, site_id: str) -> list[str]:
    """The allowed sites but ``site_id`` (``NotFound`` when it is not one of them)."""
    kept = [site for site in row.widget_sites if _site_id(site) != site_id]
    if len(kept) == len(row.widget_sites):
        raise NotFound("No such site.", code="not_found")
    return kept


def _save_sites(row: PortalSettings, sites: list[str], now: datetime) -> None:
    if len(set(sites)) > MAX_WIDGET_SITES:
        raise InvalidInput(f"At most {MAX_WIDGET_SITES} sites.")
    row.widget_sites, row.updated_at = sorted(set(sites)), now


@admin_router.get("/widget-sites", response_model=list[WidgetSite])
def list_widget_sites(user: Admin, session: SessionDep, now: NowDep) -> list[WidgetSite]:
    """The allowed sites one per record (the desk's Administration ▸ Website widget)."""
    records = _site_records(_sites(session, user.organization_id, now))
    session.rollback()
    return records


@admin_router.get("/widget-sites/{site_id}", response_model=WidgetSite)
def get_widget_site(site_id: str, user: Admin, session: SessionDep, now: NowDep) -> WidgetSite:
    found = next((r for r in _site_records(_sites(session, user.organization_id, now))
                  if r.id == site_id), None)
    session.rollback()
    if found is None:
        raise NotFound("No such site.", code="not_found")
    return found


@admin_router.post("/widget-sites", response_model=WidgetSite, status_code=201)
def add_widget_site(body: WidgetSiteBody, user: Admin, session: SessionDep,
                    now: NowDep) -> WidgetSite:
    row = _sites(session, user.organization_id, now)
    _save_sites(row, [*row.widget_sites, body.site], now)
    session.commit()
    return WidgetSite(id=_site_id(body.site), site=body.site)


@admin_router.patch("/widget-sites/{site_id}", response_model=WidgetSite)
def change_widget_site(site_id: str, body: WidgetSiteBody, user: Admin, session: SessionDep,
                       now: NowDep) -> WidgetSite:
    row = _sites(session, user.organization_id, now)
    _save_sites(row, [*_without(row, site_id), body.site], now)
    session.commit()
    return WidgetSite(id=_site_id(body.site), site=body.site)


@admin_router.delete("/widget-sites/{site_id}", status_code=204)
def remove_widget_site(site_id: str, user: Admin, session: SessionDep,
                       now: NowDep) -> Response:
    row = _sites(session, user.organization_id, now)
    _save_sites(row, _without(row, site_id), now)
    session.commit()
    return Response(status_code=204)
