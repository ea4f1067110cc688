"""The FastAPI application factory."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime, timedelta

from anyio import to_thread
from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from scheduling.sync_protocol import PROTOCOL_HEADER, REQUEST_ID_HEADER
from sync_server.api.errors import COMMON_RESPONSES, install_error_handlers
from sync_server.api.main import api_router
from sync_server.api.middleware import RequestContextMiddleware
from sync_server.api.routes import events, metrics
from sync_server.core.config import Settings
from sync_server.core.context import ServerContext
from sync_server.feeds import busy
from sync_server.feeds import routes as feeds
from sync_server.fhir import routes as fhir
from sync_server.followups import routes as followups
from sync_server.notifications import routes as notifications
from sync_server.notifications import worker as notification_worker
from sync_server.outages import routes as outages
from sync_server.portal import admin as portal_admin
from sync_server.portal import routes as portal
from sync_server.portal.signin import Guard as PortalGuard
from sync_server.services import pokes
from sync_server.services.metrics import install_counting
from sync_server.telemedicine import checkin as telemedicine_checkin
from sync_server.telemedicine import join_pages as telemedicine_pages
from sync_server.telemedicine import portal as telemedicine_portal
from sync_server.telemedicine import routes as telemedicine
from sync_server.telemedicine import session_routes as telemedicine_sessions
from sync_server.waitlist import routes as waitlist_routes

API_PREFIX = "/api/v1"


def create_app(settings: Settings, *, clock: Callable[[], datetime] | None = None) -> FastAPI:
    """Build the server for ``settings``; ``clock`` (UTC "now") is injectable for tests."""
    context = ServerContext.from_settings(settings, clock)
    broker = pokes.PokeBroker()
    install_counting(context.sessions, context.metrics)
    if settings.is_sqlite:  # one instance: pokes come straight from its commits
        pokes.install_commit_hook(context.sessions, broker)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        if settings.request_threads is not None:  # this event loop's pool of request threads
            to_thread.current_default_thread_limiter().total_tokens = settings.request_threads
        async with pokes.relaying(broker, settings, context.sessions), busy.refreshing(
                context.sessions, context.clock,
                timedelta(minutes=settings.busy_calendar_refresh_minutes)):
            if settings.run_worker:
                with notification_worker.in_thread(context):
                    yield
            else:
                yield
        context.engine.dispose()

    app = FastAPI(
        title="ClinicDesk sync server",
        version="1",
        openapi_url=f"{API_PREFIX}/openapi.json",
        docs_url="/docs",
        redoc_url=None,
        lifespan=lifespan,
        responses=COMMON_RESPONSES,
    )
    app.state.context = context
    app.state.pokes = broker
    app.state.portal_guard = PortalGuard()
    install_error_handlers(app)
    app.include_router(feeds.feed_router)  # first: calendar apps poll it, matched first
    app.include_router(api_router, prefix=API_PREFIX)
    app.include_router(feeds.router, prefix=API_PREFIX)
    app.include_router(metrics.router)
    app.include_router(notifications.router, prefix=API_PREFIX)
    app.include_router(notifications.page_router)
    app.include_router(followups.router, prefix=API_PREFIX)
    app.include_router(outages.router, prefix=API_PREFIX)
    app.include_router(portal_admin.admin_router, prefix=API_PREFIX)
    app.include_router(portal.router)
    app.include_router(telemedicine_checkin.router)
    app.include_router(telemedicine_checkin.admin_router, prefix=API_PREFIX)
    app.include_router(telemedicine.router, prefix=API_PREFIX)
    app.include_router(telemedicine_portal.router)
    fhir.install(app, API_PREFIX)
    app.include_router(waitlist_routes.router, prefix=API_PREFIX)
    app.include_router(waitlist_routes.page_router)
    app.include_router(telemedicine_sessions.router, prefix=API_PREFIX)
    app.include_router(telemedicine_pages.router)
    # Innermost of ours: the event stream is served here, below routing (see EventsEntry).
    app.add_middleware(events.EventsEntry, path=f"{API_PREFIX}/sync/events", broker=broker,
                       context=context)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
            allow_headers=["Authorization", "Content-Type", PROTOCOL_HEADER, REQUEST_ID_HEADER],
        )
    # Added last = outermost: limits and protocol checks run before anything else.
    app.add_middleware(RequestContextMiddleware, max_body_bytes=settings.max_body_bytes,
                       desk_download_url=settings.desk_download_url,
                       body_idle_seconds=settings.body_idle_seconds,
                       body_total_seconds=settings.body_total_seconds,
                       login_guard=context.login_guard, login_path=f"{API_PREFIX}/auth/login",
                       metrics=context.metrics,
                       upload_path_suffix=telemedicine_portal.UPLOAD_PATH_SUFFIX,
                       max_upload_bytes=telemedicine_portal.MAX_UPLOAD_BODY)
    return app
