"""The seed-004 hand-off bookkeeping (sync_server.fhir.handoff) on both databases:
allowed return URLs, state checks, finishing once, result tokens, refusals audited."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy.orm import Session

from sync_server.core.config import Settings
from sync_server.fhir import handoff
from sync_server.fhir.handoff import HandoffRefused
from sync_server.fhir.models import FhirClient
from tests.e2e.server_side import seed_clinic
from tests.sync_server.fhir_setup import (
    PREFIX,
    RETURN_URL,
    audit_reasons,
    plain_appointment,
    register,
)


@pytest.fixture
def clinic(db: Session, settings: Settings):  # type: ignore[no-untyped-def]
    return seed_clinic(db, settings, patients=2, codes=0)


def _appointment(db: Session, clinic) -> str:  # type: ignore[no-untyped-def]
    start = datetime.combine(clinic.first_day, datetime.min.time(), UTC) + timedelta(hours=9)
    return plain_appointment(db, clinic.org_id, clinic.clinic_id, clinic.provider_ids[0],
                             clinic.type_id, clinic.patient_ids[0], start)


def _refused(code: str, call, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(HandoffRefused) as caught:
        call(*args, **kwargs)
    assert caught.value.code == code


def test_a_booked_handoff_returns_state_outcome_refs_and_a_single_use_token(
        db: Session, clinic) -> None:  # type: ignore[no-untyped-def]
    app = register(db, clinic.org_id)
    start = handoff.begin(db, clinic.org_id, "https://app.example/booking/r?attempt=7",
                          "s t/at&e=1")
    db.commit()
    assert start.client_id == app.client_id
    appointment_id = _appointment(db, clinic)
    url = handoff.finish(db, start.id, outcome="booked", appointment_id=appointment_id)
    db.commit()
    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == "https://app.example/booking/r"
    query = parse_qs(parts.query)
    assert query["attempt"] == ["7"]
    assert query["state"] == ["s t/at&e=1"]  # echoed untouched
    assert query["outcome"] == ["booked"]
    assert query["appointmentRef"] == [appointment_id]
    assert query["bookingRef"][0].startswith("CD-")
    assert "reason" not in query
    token = query["resultToken"][0]
    client = db.get(FhirClient, app.id)
    assert client is not None
    assert handoff.exchange(db, client, token).appointment_id == appointment_id
    db.commit()
    _refused(handoff.TOKEN_USED, handoff.exchange, db, client, token)
    _refused(handoff.HANDOFF_FINISHED, handoff.finish, db, start.id, outcome="cancelled")
    assert audit_reasons(db, clinic.org_id, "handoff.exchange") == [handoff.TOKEN_USED]
    assert audit_reasons(db, clinic.org_id, "handoff.finish") == [handoff.HANDOFF_FINISHED]


def test_a_failed_handoff_has_a_reason_and_no_token(db: Session, clinic) -> None:  # type: ignore[no-untyped-def]
    register(db, clinic.org_id)
    start = handoff.begin(db, clinic.org_id, "https://app.example/booking/x", "abc")
    db.commit()
    url = handoff.finish(db, start.id, outcome="failed", reason="slot-unavailable")
    db.commit()
    query = parse_qs(urlsplit(url).query)
    assert query == {"state": ["abc"], "outcome": ["failed"], "reason": ["slot-unavailable"]}


@pytest.mark.parametrize("url", [
    "https://evil.example/return",
    "https://app.example/return/extra",        # exact entry: no more path
    "https://app.example/return?x=1",          # nor a query
    "https://app.example/bookingX",            # prefix is /booking/
    "https://app.example/booking/../admin",
    "http://app.example/booking/x",            # not https
    "https://user@app.example/booking/x",
    "https://app.example:8443/booking/x",
    "https://app.example/booking/x#frag",
    "javascript:alert(1)",
    "",
])
def test_a_return_url_off_the_allow_list_is_refused_and_audited(
        db: Session, clinic, url: str) -> None:  # type: ignore[no-untyped-def]
    register(db, clinic.org_id, urls=(RETURN_URL, PREFIX))
    _refused(handoff.RETURN_URL_NOT_ALLOWED, handoff.begin, db, clinic.org_id, url, "st")
    assert audit_reasons(db, clinic.org_id, "handoff.begin")[-1] == \
        handoff.RETURN_URL_NOT_ALLOWED


def test_another_organizations_client_or_an_inactive_one_does_not_allow(
        db: Session, settings: Settings, clinic) -> None:  # type: ignore[no-untyped-def]
    other = seed_clinic(db, settings, patients=1, codes=0)
    register(db, other.org_id)
    _refused(handoff.RETURN_URL_NOT_ALLOWED, handoff.begin, db, clinic.org_id, RETURN_URL, "a")
    mine = register(db, clinic.org_id)
    row = db.get(FhirClient, mine.id)
    assert row is not None
    row.active = False
    db.commit()
    _refused(handoff.RETURN_URL_NOT_ALLOWED, handoff.begin, db, clinic.org_id, RETURN_URL, "a")


def test_loopback_http_is_allowed_for_tests(db: Session, clinic) -> None:  # type: ignore[no-untyped-def]
    register(db, clinic.org_id, urls=("http://127.0.0.1:8123/return",))
    assert handoff.begin(db, clinic.org_id, "http://127.0.0.1:8123/return", "x").id
    db.rollback()


def test_state_missing_overlong_control_characters_or_reused_is_refused(
        db: Session, clinic) -> None:  # type: ignore[no-untyped-def]
    register(db, clinic.org_id)
    _refused(handoff.STATE_MISSING, handoff.begin, db, clinic.org_id, RETURN_URL, "")
    _refused(handoff.STATE_INVALID, handoff.begin, db, clinic.org_id, RETURN_URL, "x" * 513)
    _refused(handoff.STATE_INVALID, handoff.begin, db, clinic.org_id, RETURN_URL, "a\nb")
    handoff.begin(db, clinic.org_id, RETURN_URL, "once")
    db.commit()
    _refused(handoff.STATE_REUSED, handoff.begin, db, clinic.org_id, RETURN_URL, "once")
    assert audit_reasons(db, clinic.org_id, "handoff.begin") == [
        handoff.STATE_MISSING, handoff.STATE_INVALID, handoff.STATE_INVALID,
        handoff.STATE_REUSED]


def test_expired_handoff_bad_outcome_and_foreign_appointment_are_refused(
        db: Session, settings: Settings, clinic) -> None:  # type: ignore[no-untyped-def]
    register(db, clinic.org_id)
    old = datetime.now(UTC) - handoff.HANDOFF_LIFETIME - timedelta(minutes=1)
    expired = handoff.begin(db, clinic.org_id, RETURN_URL, "old", now=old)
    fresh = handoff.begin(db, clinic.org_id, RETURN_URL, "new")
    db.commit()
    _refused(handoff.HANDOFF_EXPIRED, handoff.finish, db, expired.id, outcome="failed")
    _refused(handoff.OUTCOME_INVALID, handoff.finish, db, fresh.id, outcome="done")
    _refused(handoff.REASON_INVALID, handoff.finish, db, fresh.id, outcome="failed",
             reason="patient is Jane")
    _refused(handoff.APPOINTMENT_UNKNOWN, handoff.finish, db, fresh.id, outcome="booked")
    other = seed_clinic(db, settings, patients=1, codes=0)
    foreign = _appointment(db, other)
    _refused(handoff.APPOINTMENT_UNKNOWN, handoff.finish, db, fresh.id, outcome="booked",
             appointment_id=foreign)
    _refused(handoff.HANDOFF_UNKNOWN, handoff.finish, db, "no-such-id", outcome="failed")
    assert audit_reasons(db, clinic.org_id, "handoff.finish") == [
        handoff.HANDOFF_EXPIRED, handoff.OUTCOME_INVALID, handoff.REASON_INVALID,
        handoff.APPOINTMENT_UNKNOWN, handoff.APPOINTMENT_UNKNOWN]


def test_result_tokens_forged_expired_or_of_another_client_are_refused(
        db: Session, clinic) -> None:  # type: ignore[no-untyped-def]
    mine = register(db, clinic.org_id)
    theirs = register(db, clinic.org_id, urls=("https://other.example/r",), name="Other")
    appointment_id = _appointment(db, clinic)
    old = datetime.now(UTC) - timedelta(minutes=30)
    late = handoff.begin(db, clinic.org_id, RETURN_URL, "late", now=old)
    late_url = handoff.finish(db, late.id, outcome="booked", appointment_id=appointment_id,
                              now=old)
    start = handoff.begin(db, clinic.org_id, RETURN_URL, "mine")
    url = handoff.finish(db, start.id, outcome="booked", appointment_id=appointment_id)
    db.commit()
    token = parse_qs(urlsplit(url).query)["resultToken"][0]
    late_token = parse_qs(urlsplit(late_url).query)["resultToken"][0]
    my_client, their_client = db.get(FhirClient, mine.id), db.get(FhirClient, theirs.id)
    assert my_client is not None and their_client is not None
    _refused(handoff.TOKEN_INVALID, handoff.exchange, db, my_client, token[:-2] + "xx")
    _refused(handoff.TOKEN_INVALID, handoff.exchange, db, my_client, "")
    _refused(handoff.TOKEN_OTHER_CLIENT, handoff.exchange, db, their_client, token)
    _refused(handoff.TOKEN_EXPIRED, handoff.exchange, db, my_client, late_token)
    assert handoff.exchange(db, my_client, token).appointment_id == appointment_id
    db.commit()
    assert audit_reasons(db, clinic.org_id, "handoff.exchange") == [
        handoff.TOKEN_INVALID, handoff.TOKEN_INVALID, handoff.TOKEN_OTHER_CLIENT,
        handoff.TOKEN_EXPIRED]
