"""Signing in online and offline, the idle lock, and services refusing while locked."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy import select

from desktop.config import DeskConfig
from desktop.services import agenda, booking
from desktop.services.context import DeskContext
from desktop.services.session import (
    Department,
    NotSignedIn,
    ServerIdentity,
    SessionLocked,
    SessionSettings,
    SignInFailure,
    SignInService,
)
from desktop.store.engine import Store
from desktop.store.models import CachedUser, LocalAuditEntry
from tests.desktop.services.conftest import (
    ANA,
    CHECKUP,
    CLINIC,
    DR_RUIZ,
    EMAIL,
    FAST_HASHER,
    PASSWORD,
    TUESDAY_9,
    USER_ID,
    FakeClock,
    server_accepting,
)


def _audit(store: Store) -> list[tuple[str, str, str]]:
    with store.session() as session:
        return [(a.intent, a.outcome, a.reason)
                for a in session.scalars(select(LocalAuditEntry).order_by(LocalAuditEntry.id))]


def _book(ctx: DeskContext) -> booking.ActionResult:
    return booking.book(ctx, clinic_id=CLINIC, patient_id=ANA, appointment_type_id=CHECKUP,
                        provider_id=DR_RUIZ, start=TUESDAY_9)


def test_online_sign_in_caches_a_verifier_not_the_password(
    sessions: SignInService, store: Store
) -> None:
    result = sessions.sign_in_online(" Desk@Clinic.example ", PASSWORD, "123456",
                                      server_accepting())

    assert result.ok and result.user is not None and result.user.online
    with store.session() as session:
        cached = session.get(CachedUser, USER_ID)
        assert cached is not None and cached.email == EMAIL
        assert cached.verifier.startswith("$argon2id$") and PASSWORD not in cached.verifier
        assert "booking:create_appointment" in cached.permissions
    assert PASSWORD not in str(_audit(store))


def test_a_password_the_server_refuses_is_audited_and_not_cached(
    sessions: SignInService, store: Store
) -> None:
    result = sessions.sign_in_online(EMAIL, "wrong", None, server_accepting())

    assert not result.ok and result.failure == SignInFailure.BAD_CREDENTIALS
    assert _audit(store) == [("session.sign_in", "refused", "bad_credentials")]
    with store.session() as session:
        assert session.scalar(select(CachedUser)) is None


def test_offline_sign_in_works_for_a_user_cached_on_this_desk(
    sessions: SignInService, clock: FakeClock
) -> None:
    sessions.sign_in_online(EMAIL, PASSWORD, None, server_accepting())
    sessions.sign_out()
    clock.advance(timedelta(days=6))

    result = sessions.sign_in_offline(EMAIL, PASSWORD)

    assert result.ok and result.user is not None and not result.user.online
    assert "booking:create_appointment" in result.user.permissions
    assert not sessions.is_locked()


def test_offline_sign_in_is_refused_for_a_user_who_never_signed_in_on_this_desk(
    sessions: SignInService, store: Store
) -> None:
    result = sessions.sign_in_offline(EMAIL, PASSWORD)

    assert not result.ok and result.failure == SignInFailure.NOT_CACHED
    assert sessions.user is None
    assert _audit(store)[-1] == ("session.sign_in_offline", "refused",
                                 "never_signed_in_on_this_desk")


def test_offline_sign_in_is_refused_after_the_validity_period(
    store: Store, clock: FakeClock
) -> None:
    config = DeskConfig(data_dir=store.path.parent, offline_signin_days=7)
    sessions = SignInService(store, clock, SessionSettings.from_config(config),
                             hasher=FAST_HASHER)
    sessions.sign_in_online(EMAIL, PASSWORD, None, server_accepting())
    sessions.sign_out()
    clock.advance(timedelta(days=7, minutes=1))

    result = sessions.sign_in_offline(EMAIL, PASSWORD)

    assert not result.ok and result.failure == SignInFailure.EXPIRED


def test_offline_sign_in_with_a_wrong_password_is_refused(sessions: SignInService) -> None:
    sessions.sign_in_online(EMAIL, PASSWORD, None, server_accepting())
    sessions.sign_out()

    result = sessions.sign_in_offline(EMAIL, "not it")

    assert not result.ok and result.failure == SignInFailure.BAD_CREDENTIALS


def test_the_session_locks_after_the_idle_time(ctx: DeskContext, clock: FakeClock) -> None:
    clock.advance(timedelta(minutes=4, seconds=59))
    assert not ctx.sessions.is_locked()
    ctx.sessions.touch()
    clock.advance(timedelta(minutes=4, seconds=59))
    assert not ctx.sessions.is_locked()
    clock.advance(timedelta(seconds=1))
    assert ctx.sessions.is_locked()


def test_a_locked_session_refuses_every_service_until_unlocked(
    ctx: DeskContext, clock: FakeClock, store: Store
) -> None:
    assert _book(ctx).ok
    clock.advance(timedelta(minutes=5))

    with pytest.raises(SessionLocked):
        _book(ctx)
    with pytest.raises(SessionLocked):
        agenda.day_view(ctx, CLINIC, TUESDAY_9.date())
    with pytest.raises(SessionLocked):
        agenda.pending_count(ctx)
    ctx.sessions.touch()  # activity does not reopen a locked session
    assert ctx.sessions.is_locked()
    assert not ctx.sessions.unlock("wrong password")
    assert ctx.sessions.is_locked()

    assert ctx.sessions.unlock(PASSWORD)
    assert _book(ctx).refusal is not None  # judged again (the slot is now taken)
    audit = _audit(store)
    assert ("session.lock", "accepted", "idle") in audit
    assert ("session.unlock", "refused", "bad_credentials") in audit
    assert ("session.unlock", "accepted", "") in audit


def test_a_fresh_sign_in_also_opens_a_locked_session(
    ctx: DeskContext, clock: FakeClock
) -> None:
    ctx.sessions.lock()
    with pytest.raises(SessionLocked):
        _book(ctx)

    assert ctx.sessions.sign_in_offline(EMAIL, PASSWORD).ok
    assert _book(ctx).ok


def test_after_sign_out_services_refuse(ctx: DeskContext, store: Store) -> None:
    ctx.sessions.sign_out()

    with pytest.raises(NotSignedIn):
        _book(ctx)
    assert _audit(store)[-1] == ("session.sign_out", "accepted", "")


def test_too_many_wrong_unlocks_end_the_session(ctx: DeskContext) -> None:
    ctx.sessions.lock()
    for _ in range(5):
        assert not ctx.sessions.unlock("guess")

    assert ctx.sessions.user is None
    assert not ctx.sessions.unlock(PASSWORD)


def test_an_offline_sign_in_keeps_the_department_context_of_the_last_online_one(
    sessions: SignInService,
) -> None:
    dental = (Department("dep-dental", "Dental"),)

    def scoped(email: str, password: str, totp: str | None) -> ServerIdentity | None:
        found = server_accepting()(email, password, totp)
        assert found is not None
        return replace(found, departments=dental)

    online = sessions.sign_in_online(EMAIL, PASSWORD, None, scoped).user
    assert online is not None and online.departments == dental
    sessions.sign_out()
    offline = sessions.sign_in_offline(EMAIL, PASSWORD).user
    assert offline is not None and offline.departments == dental
    sessions.sign_in_online(EMAIL, PASSWORD, None, server_accepting())
    sessions.sign_out()
    unlimited = sessions.sign_in_offline(EMAIL, PASSWORD).user
    assert unlimited is not None and unlimited.departments is None
