"""Rendering portal pages: the Jinja2 templates, the language, the security headers.

Templates live in ``templates/`` and translate with ``_()`` from the one gettext
catalogue (``babel.cfg`` extracts them). The language is the ``lang`` cookie, set by
the page's switch (``?lang=es``), else the browser's ``Accept-Language``.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_time
from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, StrictUndefined

from sync_server.core.translations import translations

LANGUAGES = ("en", "es")
LANG_COOKIE = "cd_portal_lang"
LOCALES = {"en": "en_US", "es": "es_ES"}
#: A day heading above its free times: "Friday, December 4" / "viernes, 4 de diciembre".
DAY_PATTERNS = {"en": "EEEE, MMMM d", "es": "EEEE, d 'de' MMMM"}
_TEMPLATES = Environment(
    loader=FileSystemLoader(Path(__file__).resolve().parent / "templates"),
    autoescape=True, undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)


def add_global(name: str, value: Any) -> None:
    """Give every template ``value`` as ``name`` (a part beside the portal showing its own
    section on a portal page, as telemedicine's join box on the appointment page)."""
    _TEMPLATES.globals[name] = value


def language(request: Request) -> str:
    """``?lang=`` (the switch), else the cookie, else the browser's first EN/ES choice."""
    asked = request.query_params.get("lang") or request.cookies.get(LANG_COOKIE)
    if asked in LANGUAGES:
        return asked
    weighted = []
    for part in request.headers.get("accept-language", "").split(",")[:20]:
        tag, _, quality = part.strip().partition(";q=")
        try:
            weight = float(quality) if quality else 1.0
        except ValueError:
            continue
        primary = tag.split("-")[0].lower()
        if primary in LANGUAGES:
            weighted.append((-weight, primary))
    return sorted(weighted)[0][1] if weighted else "en"


def security_headers(frame_ancestors: str = "'none'") -> dict[str, str]:
    return {
        "Content-Security-Policy": (
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; "
            f"object-src 'none'; base-uri 'none'; frame-ancestors {frame_ancestors}"),
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        "Cache-Control": "no-store",
    }


class Page:
    """What every page of one request shares: language, formatting, CSRF token, links."""

    def __init__(self, request: Request, org_ref: str, org_name: str, csrf: str,
                 signed_in: bool, time_zone: str = "UTC") -> None:
        self.request = request
        self.lang = language(request)
        self.catalogue = translations(self.lang)
        self.locale = LOCALES[self.lang]
        self.base = f"/portal/{org_ref}"
        self.org_name = org_name
        self.csrf = csrf
        self.signed_in = signed_in
        self.time_zone = time_zone
        self.embedded = request.query_params.get("embed") == "1"
        self.handoff = False

    def _(self, message: str) -> str:
        return self.catalogue.gettext(message)

    def when(self, moment: datetime, time_zone: str | None = None) -> str:
        local = moment.astimezone(ZoneInfo(time_zone or self.time_zone))
        return f"{format_date(local, 'full', locale=self.locale)}, {self.clock(local)}"

    def day(self, moment: datetime, time_zone: str | None = None) -> str:
        local = moment.astimezone(ZoneInfo(time_zone or self.time_zone))
        return format_date(local, DAY_PATTERNS[self.lang], locale=self.locale)

    def clock(self, moment: datetime, time_zone: str | None = None) -> str:
        local = moment.astimezone(ZoneInfo(time_zone or self.time_zone))
        return format_time(local, "HH:mm", locale=self.locale)

    def switch_url(self, lang: str) -> str:
        query = {k: v for k, v in self.request.query_params.items() if k != "lang"}
        query["lang"] = lang
        return f"{self.request.url.path}?{urlencode(query)}"

    def render(self, template: str, status_code: int = 200, *, frame_ancestors: str = "'none'",
               headers: dict[str, str] | None = None, **values: Any) -> HTMLResponse:
        body = _TEMPLATES.get_template(template).render(
            page=self, _=self._, lang=self.lang, base=self.base, csrf=self.csrf, **values)
        response = HTMLResponse(body, status_code=status_code,
                                headers={**security_headers(frame_ancestors), **(headers or {})})
        if self.request.query_params.get("lang") in LANGUAGES:
            response.set_cookie(LANG_COOKIE, self.lang, max_age=365 * 86400, path="/portal/",
                                samesite="lax", httponly=True,
                                secure=self.request.url.scheme == "https")
        return response
