"""Prometheus metrics of one server instance, served at ``GET /metrics`` (docs/deploy.md §9).

Each application (each instance) has its own registry: several instances behind a
proxy are scraped one by one and Prometheus adds them up. Labels are route templates,
status classes, refusal codes and mutation statuses — never a raw path, an id or
anything about a patient.
"""

from __future__ import annotations

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    ProcessCollector,
    generate_latest,
)

#: The route label of a request that matched no route (unknown path, or refused before
#: routing): the raw path could carry an id.
UNMATCHED = "unmatched"

_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
_SECONDS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
_MUTATIONS = (1, 5, 10, 50, 100, 500, 1000, 5000)


class ServerMetrics:
    """The instance's registry and what the server counts in it."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        ProcessCollector(registry=self.registry)
        self.requests = Counter(
            "clinicdesk_http_requests", "HTTP requests answered, by route template and "
            "status class", ["method", "route", "status"], registry=self.registry)
        self.request_seconds = Histogram(
            "clinicdesk_http_request_duration_seconds", "Time to answer a request (an event "
            "stream counts until it closes)", ["route"], buckets=_SECONDS,
            registry=self.registry)
        self.bookings = Counter(
            "clinicdesk_bookings_accepted", "Appointments booked (REST, sync push, series "
            "occurrences, from the waitlist), counted at commit", registry=self.registry)
        self.refusals = Counter(
            "clinicdesk_booking_refusals", "Intents the booking rules refused (on the sync "
            "path each one is a conflict for the desk), by refusal code", ["code"],
            registry=self.registry)
        self.push_seconds = Histogram(
            "clinicdesk_sync_push_duration_seconds", "Time to process one sync push, from "
            "its request to the commit of its last mutation", buckets=_SECONDS,
            registry=self.registry)
        self.push_mutations = Histogram(
            "clinicdesk_sync_push_mutations", "Mutations per sync push", buckets=_MUTATIONS,
            registry=self.registry)
        self.mutations = Counter(
            "clinicdesk_sync_mutations", "Pushed mutations, by what the server did with "
            "them (applied, refused, invalid, skipped)", ["status"], registry=self.registry)
        self.sse_sessions = Gauge(
            "clinicdesk_sse_sessions", "Event streams (desks and signed-in users) open on "
            "this instance", registry=self.registry)

    def count_request(self, method: str, route: str | None, status: int,
                      seconds: float) -> None:
        """One answered request; ``route`` is the matched route's template, if any."""
        label = route or UNMATCHED
        method = method if method in _METHODS else "other"  # a client may send any word
        self.requests.labels(method, label, f"{status // 100}xx").inc()
        self.request_seconds.labels(label).observe(seconds)

    def exposition(self) -> tuple[bytes, str]:
        """The registry in Prometheus text format, and its content type."""
        return generate_latest(self.registry), CONTENT_TYPE_LATEST
