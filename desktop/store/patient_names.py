"""The patient name index: folded words of every patient's names, kept in step by the ORM.

Patient search must answer within a frame at tens of thousands of patients, and
fold case and accents ("nunez" finds "Núñez"). SQLite's ``lower()`` folds
neither accents nor non-ASCII case, so the folding happens here, in Python, once
per write: every flush that adds, renames or deletes a patient rewrites that
patient's rows of ``patient_name_keys`` (one per folded name word, indexed for
prefix ranges) and its ``folded_name`` sort key and ``phone_digits``.

:func:`watch` hooks a ``sessionmaker``'s flushes; :class:`desktop.store.engine.Store`
hooks both of its own. Rows written around the ORM (a bulk ``insert()``) must call
:func:`reindex` afterwards.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from typing import Any

from sqlalchemy import bindparam, delete, event, insert, select, update
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.orm.attributes import get_history

from desktop.store.models import PatientNameKey, PatientRow

#: The folded name fields that feed the index (a change to another field needs no reindex).
_NAME_FIELDS = ("given_name", "family_name", "phone")
_PENDING = "clinicdesk_patient_names"
#: The last character a prefix range may end with: ``word >= w AND word < w + HIGH``.
PREFIX_END = "\U0010ffff"


def fold(text: str) -> str:
    """Case- and accent-folded text ("Núñez" → "nunez")."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def name_words(given_name: str, family_name: str) -> set[str]:
    """The distinct folded words of a patient's names."""
    return set(fold(f"{given_name} {family_name}").split())


def sort_key(given_name: str, family_name: str) -> str:
    """Family then given name, folded: the order search results are listed in."""
    return f"{fold(family_name).strip()}\t{fold(given_name).strip()}"


def digits(text: str) -> str:
    return "".join(c for c in text if c.isdigit())


def _fill(row: PatientRow) -> None:
    row.folded_name = sort_key(row.given_name or "", row.family_name or "")
    row.phone_digits = digits(row.phone or "")


def _before_flush(session: Session, _context: Any, _instances: Any) -> None:
    pending: dict[str, set[str] | None] = session.info.setdefault(_PENDING, {})
    for row in session.new:
        if isinstance(row, PatientRow):
            _fill(row)
            pending[row.id] = name_words(row.given_name or "", row.family_name or "")
    for row in session.dirty:
        if isinstance(row, PatientRow) and any(
                get_history(row, name).has_changes() for name in _NAME_FIELDS):
            _fill(row)
            pending[row.id] = name_words(row.given_name or "", row.family_name or "")
    for row in session.deleted:
        if isinstance(row, PatientRow):
            pending[row.id] = None


def _after_flush(session: Session, _context: Any) -> None:
    pending: dict[str, set[str] | None] | None = session.info.pop(_PENDING, None)
    if pending:
        _write(session, pending.items())


def _write(session: Session, entries: Iterable[tuple[str, set[str] | None]]) -> None:
    entries = list(entries)
    ids = [patient_id for patient_id, _words in entries]
    for start in range(0, len(ids), 500):
        session.execute(delete(PatientNameKey).where(
            PatientNameKey.patient_id.in_(ids[start:start + 500])))
    rows = [{"word": word, "patient_id": patient_id}
            for patient_id, words in entries if words for word in words]
    if rows:
        session.execute(insert(PatientNameKey), rows)


def watch(factory: sessionmaker[Session]) -> None:
    """Keep the index in step with every flush of sessions from ``factory``."""
    event.listen(factory, "before_flush", _before_flush)
    event.listen(factory, "after_flush", _after_flush)


def reindex(session: Session) -> int:
    """Rebuild the whole index from the patients table (after bulk writes); returns patients."""
    patients = session.execute(select(PatientRow.id, PatientRow.given_name,
                                      PatientRow.family_name, PatientRow.phone)).all()
    session.execute(delete(PatientNameKey))
    for start in range(0, len(patients), 2000):
        chunk = patients[start:start + 2000]
        session.execute(
            update(PatientRow)
            .where(PatientRow.id == bindparam("row_id"))
            .values(folded_name=bindparam("folded"), phone_digits=bindparam("digits")),
            [{"row_id": p.id, "folded": sort_key(p.given_name, p.family_name),
              "digits": digits(p.phone)} for p in chunk])
        rows = [{"word": word, "patient_id": p.id}
                for p in chunk for word in name_words(p.given_name, p.family_name)]
        if rows:
            session.execute(insert(PatientNameKey), rows)
    return len(patients)


__all__ = ["PREFIX_END", "digits", "fold", "name_words", "reindex", "sort_key", "watch"]
