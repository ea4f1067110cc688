"""What the service layer reports to the instance's metrics (:mod:`sync_server.core.metrics`):
appointments booked and intents refused, counted when their transaction commits (a
rolled back change counts for nothing)."""

from __future__ import annotations

from sqlalchemy import event
from sqlalchemy.orm import Session, sessionmaker

from sync_server.core.metrics import ServerMetrics
from sync_server.services.events import AppointmentBooked
from sync_server.services.unit_of_work import unit_of


def install_counting(sessions: sessionmaker[Session], metrics: ServerMetrics) -> None:
    """Count what each transaction of a session from ``sessions`` booked and refused."""

    def after_commit(session: Session) -> None:
        if session.in_nested_transaction():
            return  # a savepoint: the transaction may still roll back
        events, refusals = unit_of(session).take_outcomes()
        booked = sum(isinstance(item, AppointmentBooked) for item in events)
        if booked:
            metrics.bookings.inc(booked)
        for code in refusals:
            metrics.refusals.labels(code).inc()

    def after_rollback(session: Session) -> None:
        if not session.in_nested_transaction():  # savepoints trim their own (UnitOfWork)
            unit_of(session).take_outcomes()

    event.listen(sessions, "after_commit", after_commit)
    event.listen(sessions, "after_rollback", after_rollback)
