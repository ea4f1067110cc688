"""All routers of API version 1."""

from fastapi import APIRouter

from sync_server.api.routes import auth, devices, health

api_router = APIRouter()
api_router.include_router(health.router)
api_router.include_router(auth.router)
api_router.include_router(devices.router)
