"""``GET /metrics``: this instance's Prometheus metrics (:mod:`sync_server.core.metrics`).

Outside ``/api/v1`` where Prometheus looks by default. Off, it answers 404; it answers
only the addresses of ``CLINICDESK_METRICS_ALLOW`` and, when ``CLINICDESK_METRICS_TOKEN``
is set, a scrape sending that token (docs/deploy.md §9).
"""

from __future__ import annotations

import hmac
import ipaddress
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from sync_server.api.deps import ContextDep
from sync_server.services.errors import AuthenticationFailed, NotFound, PermissionDenied

router = APIRouter(tags=["metrics"])

_scrape_token = HTTPBearer(auto_error=False, scheme_name="MetricsToken",
                           description="CLINICDESK_METRICS_TOKEN, when the server sets one")


@router.get(
    "/metrics",
    response_class=Response,
    responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}},
                     "description": "Prometheus text format"}},
    summary="This instance's metrics (Prometheus)",
)
def metrics(
    request: Request,
    context: ContextDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_scrape_token)],
) -> Response:
    settings = context.settings
    if not settings.metrics_enabled:
        raise NotFound("Metrics are switched off on this server.")
    if not _allowed(request.client.host if request.client else "", settings.metrics_allow):
        raise PermissionDenied("Metrics are not served to this address.",
                               code="metrics_not_allowed")
    token = settings.metrics_token
    if token is not None and (credentials is None or not hmac.compare_digest(
            credentials.credentials.encode(), token.get_secret_value().encode())):
        raise AuthenticationFailed("Metrics need the scrape token.", code="metrics_token")
    body, content_type = context.metrics.exposition()
    return Response(body, media_type=content_type)


def _allowed(host: str, networks: list[ipaddress.IPv4Network | ipaddress.IPv6Network]) -> bool:
    try:
        address = ipaddress.ip_address(host)
    except ValueError:  # not an address (a Unix socket, a test client)
        return False
    return any(address in network for network in networks)
