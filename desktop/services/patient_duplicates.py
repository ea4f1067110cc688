"""Is this new patient already registered? The check before creating one.

A likely duplicate has the same name (accents and case folded), or the same
phone number (its digits) and the same given name. A family sharing one phone
number is not a duplicate: a different given name at that number is a
different person.
"""

from __future__ import annotations

import unicodedata

from sqlalchemy import select

from desktop.services.context import DeskContext, require
from desktop.services.dto import PatientDTO
from desktop.store import row_mapping
from desktop.store.models import PatientRow

#: Fewer digits than this is not compared as a phone number.
MIN_PHONE_DIGITS = 6


def likely_duplicates(ctx: DeskContext, given_name: str, family_name: str,
                      phone: str = "") -> tuple[PatientDTO, ...]:
    """Active patients who are probably the person about to be created."""
    user = require(ctx, "patient:view", "see patients")
    name = (_fold(given_name), _fold(family_name))
    digits = _digits(phone)
    found: list[PatientDTO] = []
    with ctx.store.session() as session:
        rows = session.scalars(select(PatientRow).where(
            PatientRow.organization_id == user.organization_id, PatientRow.active.is_(True)))
        for row in rows:
            same_name = (_fold(row.given_name), _fold(row.family_name)) == name
            same_phone = (len(digits) >= MIN_PHONE_DIGITS and _digits(row.phone) == digits
                          and _fold(row.given_name) == name[0])
            if same_name or same_phone:
                patient = row_mapping.patient(row)
                found.append(PatientDTO(
                    patient.id, patient.given_name, patient.family_name, patient.display_name,
                    patient.phone, patient.email, patient.preferred_language, patient.active,
                    row.is_pending))
    return tuple(found)


def _fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", " ".join(text.casefold().split()))
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def _digits(text: str) -> str:
    return "".join(c for c in text if c.isdigit())


__all__ = ["likely_duplicates"]
