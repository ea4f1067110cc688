"""Waitlist, patients and blockouts: pending rows and outbox intents in one transaction."""

from __future__ import annotations

from datetime import time, timedelta

from sqlalchemy import select

from desktop.services import blockouts, booking, patients, waitlist
from desktop.services.context import DeskContext
from desktop.services.dto import PatientDTO
from desktop.store.models import BlockoutRow, PatientRow, WaitlistEntryRow
from desktop.store.outbox import pending
from tests.desktop.services.conftest import (
    ANA,
    BEN,
    CHECKUP,
    CLINIC,
    DR_LOPEZ,
    DR_RUIZ,
    TUESDAY_9,
)


def _names(ctx: DeskContext) -> list[str]:
    with ctx.store.session() as session:
        return [e.name for e in pending(session)]


def test_booking_from_the_waitlist_deactivates_the_entry_in_the_same_transaction(
    ctx: DeskContext,
) -> None:
    added = waitlist.add(ctx, clinic_id=CLINIC, patient_id=BEN, appointment_type_id=CHECKUP,
                         priority=2, preferred_times=[(time(9), time(12))])
    assert added.ok and added.record_id is not None

    result = waitlist.book_from(ctx, added.record_id, provider_id=DR_RUIZ, start=TUESDAY_9)

    assert result.ok and result.appointment is not None
    assert result.appointment.source == "waitlist" and result.appointment.patient_id == BEN
    with ctx.store.session() as session:
        entry = session.get(WaitlistEntryRow, added.record_id)
        assert entry is not None and not entry.active
        assert entry.pending_mutation_id == result.mutation_id == 2
    assert _names(ctx) == ["waitlist.add", "waitlist.book"]
    assert waitlist.entries(ctx, CLINIC) == ()


def test_a_refused_booking_from_the_waitlist_keeps_the_entry(ctx: DeskContext) -> None:
    assert booking.book(ctx, clinic_id=CLINIC, patient_id=ANA, appointment_type_id=CHECKUP,
                        provider_id=DR_RUIZ, start=TUESDAY_9).ok
    added = waitlist.add(ctx, clinic_id=CLINIC, patient_id=BEN, appointment_type_id=CHECKUP)
    assert added.record_id is not None

    result = waitlist.book_from(ctx, added.record_id, provider_id=DR_RUIZ, start=TUESDAY_9)

    assert not result.ok and result.refusal is not None and result.refusal.alternatives
    [entry] = waitlist.entries(ctx, CLINIC)
    assert entry.active and entry.patient_name == "Ben Smith"


def test_removing_an_entry_and_matching_a_freed_slot(ctx: DeskContext) -> None:
    first = waitlist.add(ctx, clinic_id=CLINIC, patient_id=ANA, appointment_type_id=CHECKUP)
    urgent = waitlist.add(ctx, clinic_id=CLINIC, patient_id=BEN, appointment_type_id=CHECKUP,
                          priority=5, preferred_provider_ids=[DR_LOPEZ])

    matches = waitlist.matches_for_slot(ctx, CLINIC, DR_LOPEZ, TUESDAY_9,
                                        TUESDAY_9 + timedelta(minutes=30))
    assert [m.id for m in matches] == [urgent.record_id, first.record_id]

    assert first.record_id is not None
    removed = waitlist.remove(ctx, first.record_id)
    assert removed.ok and [e.id for e in waitlist.entries(ctx, CLINIC)] == [urgent.record_id]
    assert not waitlist.remove(ctx, first.record_id).ok


def test_creating_and_updating_a_patient_queues_intents(ctx: DeskContext) -> None:
    created = patients.create(ctx, given_name=" Lucía ", family_name="Fernández",
                              phone="+34 611 22 33 44")
    assert created.ok and created.patient is not None and created.patient.pending
    assert created.patient.display_name == "Lucía Fernández"

    updated = patients.update(ctx, created.patient.id, phone="+34 699 00 00 00",
                              family_name="Fernández")
    assert updated.ok and updated.patient is not None
    with ctx.store.session() as session:
        entries = list(pending(session))
        assert [e.name for e in entries] == ["patient.create", "patient.update"]
        assert entries[1].args == {"patient_id": created.patient.id,
                                   "changes": {"phone": "+34 699 00 00 00"},
                                   "base": {"phone": "+34 611 22 33 44"}}
        row = session.get(PatientRow, created.patient.id)
        assert row is not None and row.pending_mutation_id == 2


def test_a_patient_needs_a_family_name(ctx: DeskContext) -> None:
    result = patients.create(ctx, given_name="Solo", family_name="  ")

    assert result.refusal is not None and result.refusal.code == "MISSING_FIELD"
    assert _names(ctx) == []


def test_patient_search_by_name_ignores_case_and_accents_and_by_phone_digits(
    ctx: DeskContext,
) -> None:
    assert [p.id for p in patients.search(ctx, "nunez")] == ["pat-carla"]
    assert [p.id for p in patients.search(ctx, "ana GAR")] == [ANA]
    assert [p.id for p in patients.search(ctx, "600 111")] == [ANA]
    assert {p.id for p in patients.search(ctx, "+34 600")} == {ANA, "pat-carla"}
    assert all(isinstance(p, PatientDTO) for p in patients.search(ctx, "a"))


def test_blockouts_are_created_pending_and_make_the_time_unbookable(ctx: DeskContext) -> None:
    created = blockouts.create(ctx, clinic_id=CLINIC, start=TUESDAY_9,
                               end=TUESDAY_9 + timedelta(hours=2), resource_id=DR_RUIZ,
                               reason="training")
    assert created.ok and created.record_id is not None

    refused = booking.book(ctx, clinic_id=CLINIC, patient_id=ANA, appointment_type_id=CHECKUP,
                           provider_id=DR_RUIZ, start=TUESDAY_9)
    assert refused.refusal is not None and refused.refusal.code == "BLOCKED_OUT"
    [shown] = blockouts.between(ctx, CLINIC, TUESDAY_9.date(), TUESDAY_9.date())
    assert shown.pending and shown.reason == "training"

    deleted = blockouts.delete(ctx, created.record_id)
    assert deleted.ok
    with ctx.store.session() as session:
        assert session.scalar(select(BlockoutRow)) is None
    assert _names(ctx) == ["blockout.create", "blockout.delete"]
