"""Booking actions: local judgement, optimistic pending rows and the outbox, in one transaction."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from desktop.services import booking
from desktop.services.appointment_details import load_details
from desktop.services.context import DeskContext
from desktop.services.dto import ActionResult, AlternativeDTO, AppointmentDTO, RefusalDTO
from desktop.store.models import AppointmentRow, LocalAuditEntry, SeriesRow
from desktop.store.outbox import pending
from scheduling import intents
from scheduling.recurrence import weekly_for_weeks
from tests.desktop.services.conftest import (
    ANA,
    BEN,
    CARLA,
    CHECKUP,
    CLINIC,
    DR_LOPEZ,
    DR_RUIZ,
    EMAIL,
    PASSWORD,
    ROOM,
    TUESDAY_9,
    FakeClock,
    server_accepting,
)


def _book(ctx: DeskContext, patient: str = ANA, start: datetime = TUESDAY_9,
          provider: str = DR_RUIZ) -> ActionResult:
    return booking.book(ctx, clinic_id=CLINIC, patient_id=patient,
                        appointment_type_id=CHECKUP, provider_id=provider, start=start)


def _outbox(ctx: DeskContext) -> list[tuple[int, str, dict[str, object]]]:
    with ctx.store.session() as session:
        return [(e.mutation_id, e.name, dict(e.args)) for e in pending(session)]


def _row(ctx: DeskContext, appointment_id: str) -> AppointmentRow | None:
    with ctx.store.session() as session:
        row = session.get(AppointmentRow, appointment_id)
        if row is not None:
            session.expunge(row)
        return row


def _audit(ctx: DeskContext) -> list[tuple[str, str, str]]:
    with ctx.store.session() as session:
        return [(a.intent, a.outcome, a.reason)
                for a in session.scalars(select(LocalAuditEntry).order_by(LocalAuditEntry.id))]


def test_booking_writes_the_pending_appointment_and_one_outbox_entry(ctx: DeskContext) -> None:
    result = _book(ctx)

    assert result.ok and result.mutation_id == 1
    assert result.appointment is not None and result.appointment.pending
    row = _row(ctx, result.appointment.id)
    assert row is not None and row.pending_mutation_id == 1 and row.status == "booked"
    assert row.room_id == ROOM  # the rules chose the free room
    [(mutation_id, name, args)] = _outbox(ctx)
    assert (mutation_id, name) == (1, intents.APPOINTMENT_BOOK)
    assert args["appointment_id"] == result.appointment.id
    assert args["start"] == "2025-03-04T08:00:00+00:00"
    assert args["patient_id"] == ANA and args["provider_id"] == DR_RUIZ
    assert ("appointment.book", "accepted", "") in _audit(ctx)


def test_a_failure_after_the_upsert_leaves_neither_row_nor_outbox_entry(
    ctx: DeskContext,
) -> None:
    def fail(session: Session, mutation_id: int) -> None:
        assert session.get(AppointmentRow, "doomed") is not None  # the upsert happened
        raise RuntimeError("disk full")

    command = booking.BookAppointment(ctx.actor(), "doomed", CLINIC, ANA, CHECKUP, DR_RUIZ,
                                      TUESDAY_9)
    with pytest.raises(RuntimeError):
        booking.run_booking(ctx, command, also=fail)

    assert _row(ctx, "doomed") is None
    assert _outbox(ctx) == []


def test_a_refused_booking_writes_no_outbox_entry_and_offers_alternatives(
    ctx: DeskContext,
) -> None:
    assert _book(ctx, ANA).ok

    refused = _book(ctx, BEN)  # same provider, same time

    assert not refused.ok and refused.mutation_id is None
    assert refused.refusal is not None
    assert refused.refusal.code in {"PROVIDER_BUSY", "ROOM_BUSY"}
    assert refused.refusal.message_id
    assert refused.refusal.alternatives
    assert all(isinstance(a, AlternativeDTO) for a in refused.refusal.alternatives)
    assert len(_outbox(ctx)) == 1
    assert _audit(ctx)[-1][:2] == ("appointment.book", "refused")


def test_booking_outside_working_hours_is_refused_with_the_code(ctx: DeskContext) -> None:
    result = _book(ctx, start=TUESDAY_9 + timedelta(hours=12))  # 21:00 local

    assert result.refusal is not None and result.refusal.code == "OUTSIDE_HOURS"
    assert _outbox(ctx) == []


def test_mutation_ids_are_gap_free_over_a_mix_of_actions(ctx: DeskContext,
                                                        clock: FakeClock) -> None:
    first = _book(ctx, ANA)
    assert first.appointment is not None
    appointment_id = first.appointment.id
    _book(ctx, BEN)  # refused: takes no id
    results = [
        booking.move(ctx, appointment_id, TUESDAY_9 + timedelta(hours=1)),
        booking.resize(ctx, appointment_id, TUESDAY_9 + timedelta(hours=1, minutes=45)),
        _book(ctx, CARLA, provider=DR_LOPEZ),
        booking.change_status(ctx, appointment_id, "confirmed"),
        booking.undo_status(ctx, appointment_id),
        booking.duplicate(ctx, appointment_id, TUESDAY_9 + timedelta(days=1)),
        booking.cancel(ctx, appointment_id, "patient called"),
    ]

    assert all(r.ok for r in results), [r.refusal for r in results if not r.ok]
    assert [m for m, _, _ in _outbox(ctx)] == list(range(1, 9))
    assert [r.mutation_id for r in results] == list(range(2, 9))


def test_move_resize_and_cancel_update_the_optimistic_row(ctx: DeskContext) -> None:
    booked = _book(ctx)
    assert booked.appointment is not None
    appointment_id = booked.appointment.id

    moved = booking.move(ctx, appointment_id, TUESDAY_9 + timedelta(hours=2),
                         provider_id=DR_LOPEZ)
    row = _row(ctx, appointment_id)
    assert moved.ok and row is not None
    assert (row.start, row.provider_id) == (TUESDAY_9 + timedelta(hours=2), DR_LOPEZ)
    assert row.pending_mutation_id == moved.mutation_id == 2

    resized = booking.resize(ctx, appointment_id, TUESDAY_9 + timedelta(hours=2, minutes=45))
    row = _row(ctx, appointment_id)
    assert resized.ok and row is not None and row.end == TUESDAY_9 + timedelta(hours=2,
                                                                               minutes=45)

    cancelled = booking.cancel(ctx, appointment_id, "patient called")
    row = _row(ctx, appointment_id)
    assert cancelled.ok and row is not None
    assert (row.status, row.cancel_reason, row.pending_mutation_id) == ("cancelled",
                                                                        "patient called", 4)
    names = [name for _, name, _ in _outbox(ctx)]
    assert names == ["appointment.book", "appointment.move", "appointment.resize",
                     "appointment.cancel"]
    assert _outbox(ctx)[1][2]["base_version"] == 1


def test_status_change_and_undo_update_the_row_and_queue_intents(
    ctx: DeskContext, clock: FakeClock
) -> None:
    booked = _book(ctx)
    assert booked.appointment is not None
    appointment_id = booked.appointment.id

    confirmed = booking.change_status(ctx, appointment_id, "confirmed")
    row = _row(ctx, appointment_id)
    assert confirmed.ok and row is not None and row.status == "confirmed"
    assert row.last_status_change is not None

    undone = booking.undo_status(ctx, appointment_id)
    row = _row(ctx, appointment_id)
    assert undone.ok and row is not None and row.status == "booked"
    assert _outbox(ctx)[-1][1:] == ("appointment.undo_status",
                                    {"appointment_id": appointment_id, "base_version": 2})


def test_an_illegal_status_change_is_refused_and_audited(ctx: DeskContext) -> None:
    booked = _book(ctx)
    assert booked.appointment is not None

    result = booking.change_status(ctx, booked.appointment.id, "completed")

    assert result.refusal is not None and result.refusal.code == "ILLEGAL_TRANSITION"
    assert _audit(ctx)[-1] == ("appointment.change_status:completed", "refused",
                               "ILLEGAL_TRANSITION")


def test_a_series_of_mondays_and_wednesdays_for_six_weeks_gives_twelve_results(
    ctx: DeskContext,
) -> None:
    first = datetime(2025, 3, 10, 9, 0, tzinfo=UTC)  # Monday 10:00 Madrid
    result = booking.book_series(
        ctx, clinic_id=CLINIC, patient_id=ANA, appointment_type_id=CHECKUP,
        provider_id=DR_RUIZ, first_start=first, rrule=weekly_for_weeks([0, 2], 6),
    )

    assert result.ok and len(result.occurrences) == 12
    assert len(result.appointments) == 12
    assert {a.start.astimezone(UTC).weekday() for a in result.appointments} == {0, 2}
    [(mutation_id, name, args)] = _outbox(ctx)
    assert (mutation_id, name, args["skipped"]) == (1, "series.book", [])
    with ctx.store.session() as session:
        assert session.scalar(select(func.count()).select_from(AppointmentRow)) == 12
        series = session.get(SeriesRow, result.record_id)
        assert series is not None and series.pending_mutation_id == 1


def test_a_series_clash_is_left_out_with_alternatives(ctx: DeskContext) -> None:
    first = datetime(2025, 3, 10, 9, 0, tzinfo=UTC)
    assert _book(ctx, BEN, start=first + timedelta(days=7)).ok  # the second Monday

    result = booking.book_series(
        ctx, clinic_id=CLINIC, patient_id=ANA, appointment_type_id=CHECKUP,
        provider_id=DR_RUIZ, first_start=first, rrule=weekly_for_weeks([0, 2], 6),
    )

    refused = [o for o in result.occurrences if not o.ok]
    assert result.ok and len(result.appointments) == 11 and len(refused) == 1
    assert refused[0].refusal is not None and refused[0].refusal.alternatives
    assert _outbox(ctx)[-1][2]["skipped"] == ["2025-03-17T10:00:00"]


def test_moving_this_and_following_occurrences_splits_the_series(ctx: DeskContext) -> None:
    first = datetime(2025, 3, 10, 9, 0, tzinfo=UTC)
    series = booking.book_series(
        ctx, clinic_id=CLINIC, patient_id=ANA, appointment_type_id=CHECKUP,
        provider_id=DR_RUIZ, first_start=first, rrule=weekly_for_weeks([0], 4),
    )
    third = series.appointments[2]

    result = booking.edit_series(ctx, third.id, "following", action="move",
                                 start=third.start + timedelta(hours=1))

    assert result.ok and len(result.appointments) == 2
    assert all(a.series_id == result.record_id != series.record_id
               for a in result.appointments)
    assert _outbox(ctx)[-1][1] == "series.edit"
    assert _outbox(ctx)[-1][2]["scope"] == "following"


def test_cancelling_all_occurrences_of_a_series(ctx: DeskContext) -> None:
    first = datetime(2025, 3, 10, 9, 0, tzinfo=UTC)
    series = booking.book_series(
        ctx, clinic_id=CLINIC, patient_id=ANA, appointment_type_id=CHECKUP,
        provider_id=DR_RUIZ, first_start=first, rrule=weekly_for_weeks([0], 3),
    )

    result = booking.edit_series(ctx, series.appointments[0].id, "all", action="cancel",
                                 reason="moved away")

    assert result.ok and [a.status for a in result.appointments] == ["cancelled"] * 3
    assert [m for m, _, _ in _outbox(ctx)] == [1, 2]


def test_a_user_without_the_permission_is_refused_and_nothing_is_queued(
    ctx: DeskContext,
) -> None:
    ctx.sessions.sign_in_online(EMAIL, PASSWORD, None,
                                server_accepting(frozenset({"booking:view_calendar"})))

    result = _book(ctx)

    assert result.refusal is not None and result.refusal.code == "NOT_PERMITTED"
    assert _outbox(ctx) == []
    assert _audit(ctx)[-1] == ("appointment.book", "refused", "NOT_PERMITTED")


def _walk(value: object) -> list[object]:
    """Every value reachable through dataclass fields, tuples and mappings."""
    found = [value]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        for field in dataclasses.fields(value):
            found += _walk(getattr(value, field.name))
    elif isinstance(value, tuple):
        for item in value:
            found += _walk(item)
    elif hasattr(value, "items"):
        for item in value.values():  # type: ignore[attr-defined]
            found += _walk(item)
    return found


def test_results_hold_only_frozen_dtos_and_plain_values(ctx: DeskContext) -> None:
    _book(ctx, ANA)
    results = [_book(ctx, ANA, start=TUESDAY_9 + timedelta(hours=3)), _book(ctx, BEN)]

    plain = (str, int, float, bool, type(None), datetime)
    for result in results:
        for value in _walk(result):
            if dataclasses.is_dataclass(value):
                assert type(value).__module__ == "desktop.services.dto"
                with pytest.raises(dataclasses.FrozenInstanceError):
                    setattr(value, dataclasses.fields(value)[0].name, None)
            else:
                assert isinstance(value, (*plain, tuple)) or hasattr(value, "items"), value
    assert isinstance(results[0].appointment, AppointmentDTO)
    assert isinstance(results[1].refusal, RefusalDTO)


def test_a_status_the_patient_set_by_replying_says_how(ctx: DeskContext) -> None:
    """A confirmation pulled from the server whose last status step was the patient's reply
    (actor ``patient:email-link``) is shown as the patient's; one set at the desk is not."""
    booked = _book(ctx)
    assert booked.appointment is not None
    appointment_id = booked.appointment.id
    assert booking.change_status(ctx, appointment_id, "confirmed").ok
    details = load_details(ctx, appointment_id)
    assert details is not None and details.status_by_patient == ""

    with ctx.store.session() as session:  # as a pull writes the server's confirmation
        row = session.get(AppointmentRow, appointment_id)
        assert row is not None and row.last_status_change is not None
        row.last_status_change = {**row.last_status_change, "actor_id": "patient:email-link"}
        session.commit()
    details = load_details(ctx, appointment_id)
    assert details is not None and details.status_by_patient == "email-link"
