"""One portal request: its organization, the browser's CSRF cookie, the portal session,
the page it renders, and the posted form (read without python-multipart)."""

from __future__ import annotations

import secrets
from datetime import date, datetime, timedelta
from typing import Annotated, Any
from urllib.parse import parse_qs, urlsplit

from fastapi import Depends, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from scheduling.refusals import N_
from sync_server.api.deps import ContextDep, NowDep, SessionDep
from sync_server.db import models as db
from sync_server.notifications.policy import policy_of
from sync_server.portal import service, signin
from sync_server.portal.models import PortalSession
from sync_server.portal.pages import Page
from sync_server.services.errors import NotFound


class Visit:
    """One request's organization, browser cookie, portal session and page."""

    def __init__(self, request: Request, session: Session, context: Any, now: datetime,
                 org_ref: str) -> None:
        org = service.organization(session, org_ref)
        if org is None:
            raise NotFound("No such organization.", code="not_found")
        self.request, self.db, self.now, self.org = request, session, now, org
        self.key = context.settings.signing_key()
        self.guard: signin.Guard = request.app.state.portal_guard
        self.browser = request.cookies.get(signin.CSRF_COOKIE) or ""
        self.new_browser = ""
        if not self.browser or len(self.browser) > 100:
            self.browser = self.new_browser = secrets.token_urlsafe(24)
        self.portal = signin.find_session(session, org.id, request.cookies.get(
            signin.SESSION_COOKIE), now)
        if self.portal is not None:  # a session lasts from its last page, not its first
            self.portal.expires_at = now + timedelta(minutes=signin.SESSION_MINUTES)
        self.new_token = ""
        clinic = session.scalars(select(db.Clinic).where(
            db.Clinic.organization_id == org.id).order_by(db.Clinic.name)).first()
        self.page = Page(request, org_ref, org.name, signin.csrf_token(self.key, self.browser),
                         self.signed_in, clinic.time_zone if clinic else "UTC")
        self.page.handoff = bool(self.portal is not None and self.portal.handoff_id)

    @property
    def signed_in(self) -> bool:
        return self.portal is not None and self.portal.verified_at is not None

    @property
    def patient_id(self) -> str | None:
        return self.portal.patient_id if self.signed_in and self.portal else None

    def ip(self) -> str:
        return self.request.client.host if self.request.client else "unknown"

    def session_row(self) -> PortalSession:
        """The visitor's portal session, opened now when they have none."""
        if self.portal is None:
            self.portal, self.new_token = signin.open_session(self.db, self.org.id, self.now)
        self.portal.expires_at = self.now + timedelta(minutes=signin.SESSION_MINUTES)
        return self.portal

    def finish(self, response: Response) -> Response:
        """Set the cookies this request created (and commit the session's changes)."""
        secure = self.request.url.scheme == "https"
        if self.new_browser:
            response.set_cookie(signin.CSRF_COOKIE, self.new_browser, path="/portal/",
                                httponly=True, samesite="lax", secure=secure)
        if self.new_token:
            response.set_cookie(signin.SESSION_COOKIE, self.new_token, path="/portal/",
                                httponly=True, samesite="lax", secure=secure)
        self.db.commit()
        return response

    def render(self, template: str, status_code: int = 200, **values: Any) -> Response:
        return self.finish(self.page.render(template, status_code, **values))

    def refused(self, intent: str, reason: str, status_code: int, message: str,
                headers: dict[str, str] | None = None, **target: str) -> Response:
        """Audit the refusal and show it (the session's own changes are dropped)."""
        self.db.rollback()
        service.refuse(self.db, self.org.id, intent, reason, self.now, **target)
        return self.show_problem(status_code, message, headers)

    def show_problem(self, status_code: int, message: str,
                     headers: dict[str, str] | None = None) -> Response:
        return self.finish(self.page.render(
            "problem.html", status_code, headers=headers, message=self.page._(message),
            phone=policy_of(self.db, self.org.id).clinic_phone))

    def check_csrf(self, given: str | None) -> Response | None:
        if self.new_browser or not signin.csrf_ok(self.key, self.browser, given):
            return self.refused("portal.form", "csrf", 403, N_(
                "This form has expired. Please go back, reload the page and try again."))
        return None

    def to(self, path: str) -> Response:
        return self.finish(RedirectResponse(f"{self.page.base}{path}", status_code=303))

    def clinic_phone(self) -> str:
        return policy_of(self.db, self.org.id).clinic_phone


def visit(org: str, request: Request, session: SessionDep, context: ContextDep,
          now: NowDep) -> Visit:
    return Visit(request, session, context, now, org)


VisitDep = Annotated[Visit, Depends(visit)]


class Posted:
    """A posted form (``application/x-www-form-urlencoded``, read without python-multipart);
    a field longer than its limit reads as empty, and so fails the page's checks."""

    def __init__(self, fields: dict[str, str]) -> None:
        self.fields = fields

    def get(self, name: str, limit: int = 200) -> str:
        value = self.fields.get(name, "")
        return value if len(value) <= limit else ""


async def posted(request: Request) -> Posted:
    body = (await request.body()).decode("utf-8", "replace")
    return Posted({name: values[0] for name, values in parse_qs(body).items()})


FormDep = Annotated[Posted, Depends(posted)]


def day_or(text: str | None, default: date) -> date:
    try:
        return date.fromisoformat(text) if text else default
    except ValueError:
        return default


def instant_of(text: str) -> datetime | None:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


def safe_next(v: Visit, given: str | None) -> str:
    """Where to go after signing in: a path inside this organization's portal only."""
    if given and given.startswith(v.page.base + "/") and "//" not in given \
            and not urlsplit(given).netloc:
        return given
    return f"{v.page.base}/appointments"
