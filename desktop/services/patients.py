"""Patients on the desk: create, update, find by name or phone.

An update sends only the fields that changed, each with the value it was based
on: the server applies a field only while it still holds that value, otherwise
the field becomes a conflict in the desk's inbox ("keep mine" / "keep theirs",
see :func:`keep_mine`). Search folds case and accents ("nunez" finds "Núñez")
and matches phone numbers by their digits.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from types import MappingProxyType
from typing import Any

from sqlalchemy import ColumnElement, Select, exists, func, intersect, or_, select
from sqlalchemy.orm import Session

from desktop.services import agenda, departments
from desktop.services.context import (
    DeskContext,
    add_event,
    missing_field,
    not_permitted,
    refusal,
    require,
)
from desktop.services.dto import PatientDTO, PatientResult, RefusalDTO
from desktop.store import outbox, patient_names, row_mapping
from desktop.store.models import AppointmentRow, ConflictRow, PatientNameKey, PatientRow
from desktop.store.patient_names import PREFIX_END, fold
from scheduling import intents, limits
from scheduling.intents import birth_date_text
from scheduling.model import CONTACT_PREFERENCES, AppointmentStatus, Patient
from scheduling.refusals import N_, RefusalCode

VIEW = "patient:view"
EDIT = "patient:edit"
#: Fields an update may change.
EDITABLE = frozenset({"given_name", "family_name", "phone", "email", "preferred_language",
                      "active", "contact_preference", "reminders_opt_out", "date_of_birth",
                      "address", "insurance_provider", "insurance_id"})
#: A desk-level refusal: a date of birth that is not a past date.
INVALID_BIRTH_DATE = "INVALID_BIRTH_DATE"
INVALID_BIRTH_DATE_MESSAGE = N_("Write the date of birth as YYYY-MM-DD, not in the future "
                                "(or leave it empty).")
#: Fewer digits than this in a search is not treated as a phone number.
MIN_PHONE_DIGITS = 3
#: A word matching fewer patients than this drives the search (see _name_condition).
FEW_MATCHES = 2000


def create(
    ctx: DeskContext,
    *,
    given_name: str,
    family_name: str,
    phone: str = "",
    email: str = "",
    preferred_language: str = "en",
) -> PatientResult:
    user = ctx.user()
    patient = Patient(ctx.new_id(), user.organization_id, given_name.strip(),
                      family_name.strip(), True, phone.strip(), email.strip(),
                      preferred_language)
    why = (
        not_permitted("register patients") if EDIT not in user.permissions
        else missing_field("family_name") if not patient.family_name
        else None
    )
    now = ctx.now()
    with ctx.store.write() as session:
        if why is not None:
            add_event(session, now, user.user_id, intents.PATIENT_CREATE, patient.id, "refused",
                      why.code)
            return PatientResult(False, refusal=why)
        mutation_id = outbox.append(session, intents.PATIENT_CREATE,
                                    intents.patient_create(patient), now=now, user_id=user.user_id)
        session.add(PatientRow(
            id=patient.id, organization_id=patient.organization_id,
            given_name=patient.given_name, family_name=patient.family_name, active=True,
            phone=patient.phone, email=patient.email,
            preferred_language=patient.preferred_language, pending_mutation_id=mutation_id,
        ))
        add_event(session, now, user.user_id, intents.PATIENT_CREATE, patient.id, "accepted")
    return PatientResult(True, _dto(patient, pending=True), mutation_id=mutation_id)


def update(ctx: DeskContext, patient_id: str, **changes: Any) -> PatientResult:
    """Change some of :data:`EDITABLE`; unchanged values are not sent."""
    unknown = set(changes) - EDITABLE
    if unknown:
        raise ValueError(f"not editable patient fields: {', '.join(sorted(unknown))}")
    if changes.get("contact_preference", "none") not in CONTACT_PREFERENCES:
        raise ValueError("unknown contact preference")
    user = ctx.user()
    now = ctx.now()
    with ctx.store.write() as session:
        row = session.get(PatientRow, patient_id)
        why: RefusalDTO | None = None
        if EDIT not in user.permissions:
            why = not_permitted("edit patients")
        elif row is None:
            why = refusal(RefusalCode.UNKNOWN_RECORD, kind="patient")
        elif "family_name" in changes and not str(changes["family_name"]).strip():
            why = missing_field("family_name")
        elif not _birth_date_possible(str(changes.get("date_of_birth", "")), now.date()):
            why = RefusalDTO(INVALID_BIRTH_DATE, INVALID_BIRTH_DATE_MESSAGE, MappingProxyType({}))
        if why is not None or row is None:
            assert why is not None
            add_event(session, now, user.user_id, intents.PATIENT_UPDATE, patient_id, "refused",
                      why.code)
            return PatientResult(False, refusal=why)
        changed = {
            name: value.strip() if isinstance(value, str) else value
            for name, value in changes.items()
            if getattr(row, name) != value
        }
        if not changed:
            return PatientResult(True, _dto(row_mapping.patient(row), row.is_pending))
        # Each field's value as this desk saw it: the server applies a field only while it
        # still holds that value, otherwise the desk's inbox gets the field as a conflict.
        base = {name: getattr(row, name) for name in changed}
        mutation_id = outbox.append(session, intents.PATIENT_UPDATE,
                                    intents.patient_update(patient_id, changed, base), now=now,
                                    user_id=user.user_id)
        for name, value in changed.items():
            setattr(row, name, value)
        row.pending_mutation_id = mutation_id
        add_event(session, now, user.user_id, intents.PATIENT_UPDATE, patient_id, "accepted",
                  ",".join(sorted(changed)))  # field names only, never values
        return PatientResult(True, _dto(row_mapping.patient(row), pending=True),
                             mutation_id=mutation_id)


def search(
    ctx: DeskContext, text: str, *, limit: int = 20, include_inactive: bool = False
) -> tuple[PatientDTO, ...]:
    """Patients whose every word of ``text`` starts a name part, or whose phone holds
    its digits; sorted by family then given name.

    Names are matched in the folded name index (:mod:`desktop.store.patient_names`):
    one index range per word, so the answer does not grow with the number of patients.
    """
    user = require(ctx, VIEW, "see patients")
    words = fold(text).split()
    digits = patient_names.digits(text)
    if not words:
        return ()
    phone_search = len(digits) >= MIN_PHONE_DIGITS and len(digits) * 2 >= len(text.strip())
    query = select(PatientRow).where(PatientRow.organization_id == user.organization_id)
    if not include_inactive:
        query = query.where(PatientRow.active.is_(True))
    if phone_search:
        query = query.where(PatientRow.phone_digits.contains(digits, autoescape=True))
    with ctx.store.session() as session:
        if not phone_search:
            query = _name_condition(session, query, set(words))
        query = query.order_by(PatientRow.folded_name, PatientRow.id).limit(limit)
        found = [_dto(row_mapping.patient(row), row.is_pending)
                 for row in session.scalars(query)]
        upcoming = _next_appointments(session, [p.id for p in found], ctx.now(),
                                      departments.hidden_resources(session, user))
    return tuple(replace(p, next_appointment=upcoming.get(p.id)) for p in found)


#: Statuses of a booking that still holds its time (the "next appointment" of a search).
_HOLDING = tuple(s.value for s in AppointmentStatus if s.occupies_time)


def _next_appointments(session: Session, patient_ids: list[str], now: datetime,
                       hidden: frozenset[str] = frozenset()) -> dict[str, datetime]:
    """Each patient's next booked start at or after ``now`` (one grouped query), leaving
    out appointments with a ``hidden`` provider or room (another department's)."""
    if not patient_ids:
        return {}
    query = (select(AppointmentRow.patient_id, func.min(AppointmentRow.start))
             .where(AppointmentRow.patient_id.in_(patient_ids), AppointmentRow.start >= now,
                    AppointmentRow.deleted.is_(False), AppointmentRow.status.in_(_HOLDING)))
    if hidden:
        query = query.where(AppointmentRow.provider_id.not_in(hidden),
                            or_(AppointmentRow.room_id.is_(None),
                                AppointmentRow.room_id.not_in(hidden)))
    rows = session.execute(query.group_by(AppointmentRow.patient_id))
    return {patient_id: start.replace(tzinfo=UTC) if start.tzinfo is None else start
            for patient_id, start in rows}


def _name_condition(session: Session, query: Select[Any],
                    words: set[str]) -> Select[Any]:
    """Every word starts one of the patient's folded name words.

    Plans by how many patients each word matches (counted up to :data:`FEW_MATCHES`):
    a rare word, or several common ones — collect the patients from the word index
    (intersecting the ranges) and sort those; one common word (a one-letter search) —
    walk the patients in result order and stop at the limit, each checked in the
    (patient, word) index.
    """
    def has(word: str) -> ColumnElement[bool]:
        return (PatientNameKey.word >= word) & (PatientNameKey.word < word + PREFIX_END)

    counts = {word: session.scalar(select(func.count()).select_from(
        select(PatientNameKey.patient_id).where(has(word)).limit(FEW_MATCHES).subquery())) or 0
        for word in words}
    rarest = min(words, key=lambda w: (counts[w], -len(w)))
    if counts[rarest] < FEW_MATCHES or len(words) > 1:
        # Few, or several common words: intersect their index ranges, then sort.
        chosen = [rarest] if counts[rarest] < FEW_MATCHES else sorted(words)
        matching = intersect(*(select(PatientNameKey.patient_id).where(has(w))
                               for w in chosen)) if len(chosen) > 1 else select(
            PatientNameKey.patient_id).where(has(chosen[0]))
        query = query.where(PatientRow.id.in_(matching))
        words = words - set(chosen)
    for word in words:
        query = query.where(exists().where(PatientNameKey.patient_id == PatientRow.id,
                                           has(word)))
    return query


def get(ctx: DeskContext, patient_id: str) -> PatientDTO | None:
    require(ctx, VIEW, "see patients")
    with ctx.store.session() as session:
        row = session.get(PatientRow, patient_id)
        return None if row is None else _dto(row_mapping.patient(row), row.is_pending)


def _birth_date_possible(text: str, today: date) -> bool:
    """Empty (unknown), or an ISO date between 1900 and today."""
    if not text.strip():
        return True
    try:
        born = date.fromisoformat(text.strip())
    except ValueError:
        return False
    return born <= today and limits.year_problem(born) is None


def _dto(patient: Patient, pending: bool) -> PatientDTO:
    return PatientDTO(patient.id, patient.given_name, patient.family_name, patient.display_name,
                      patient.phone, patient.email, patient.preferred_language, patient.active,
                      pending, patient.contact_preference, patient.reminders_opt_out,
                      date_of_birth=birth_date_text(patient.date_of_birth),
                      address=patient.address, insurance_provider=patient.insurance_provider,
                      insurance_id=patient.insurance_id)


# --------------------------------------------------------------------------- edit conflicts


@dataclass(frozen=True, slots=True)
class EditConflict:
    """An ``EDIT_CONFLICT`` of the inbox: the patient and, per field, this desk's value
    (``mine``) and the one the server kept (``theirs``)."""

    conflict_id: int
    patient_id: str
    mine: Mapping[str, Any]
    theirs: Mapping[str, Any]


def edit_conflict(ctx: DeskContext, conflict_id: int) -> EditConflict | None:
    """The inbox entry ``conflict_id`` as an edit conflict (None for any other entry)."""
    require(ctx, VIEW, "see patients")
    with ctx.store.session() as session:
        row = session.get(ConflictRow, conflict_id)
        if row is None or row.code != RefusalCode.EDIT_CONFLICT.value:
            return None
        patient_id = (row.attempted.get("args") or {}).get("patient_id")
        fields = [name for name in str(row.params.get("fields", "")).split(",")
                  if name in EDITABLE]
        if not isinstance(patient_id, str) or not fields:
            return None
        return EditConflict(conflict_id, patient_id,
                            {name: row.params.get(f"mine_{name}") for name in fields},
                            {name: row.params.get(f"theirs_{name}") for name in fields})


def keep_mine(ctx: DeskContext, conflict: EditConflict) -> PatientResult:
    """Send this desk's values again, now based on the server's (a new, ordinary edit that
    conflicts only if the server moved again); the inbox entry is dismissed when queued."""
    result = update(ctx, conflict.patient_id, **conflict.mine)
    if result.ok:
        agenda.dismiss_conflict(ctx, conflict.conflict_id)
    return result


def keep_theirs(ctx: DeskContext, conflict: EditConflict) -> None:
    """Keep the server's values (the desk already shows them): dismiss the inbox entry."""
    agenda.dismiss_conflict(ctx, conflict.conflict_id)

