"""All routers of API version 1 (each in :mod:`sync_server.api.routes`)."""

from fastapi import APIRouter

from sync_server.api.routes import (
    admin,
    appointments,
    auth,
    availability,
    devices,
    events,
    financials,
    health,
    staff,
    sync,
    visits,
)

api_router = APIRouter()
for router in (health.router, auth.router, devices.router, appointments.router,
               availability.router, sync.router, events.router, admin.router, staff.router,
               visits.router, financials.router):
    api_router.include_router(router)
