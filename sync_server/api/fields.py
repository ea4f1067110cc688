"""The REST bodies' field types, bounded by :mod:`scheduling.limits` (the columns' sizes).

Every text field refuses control characters (NUL first of all: PostgreSQL cannot
store it) and every instant or day lies between the years
``limits.EARLIEST_YEAR`` and ``limits.LATEST_YEAR``, exactly as the sync decoder
does, so REST and sync accept the same values and every accepted value fits its
column.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Annotated, Any, TypeVar

from fastapi import Path, Query
from pydantic import AfterValidator, AwareDatetime, Field, NaiveDatetime

from scheduling import limits


def text_check(limit: int, *, multiline: bool = False) -> Callable[[str], str]:
    def check(value: str) -> str:
        problem = limits.text_problem(value, limit, multiline=multiline)
        if problem is not None:
            raise ValueError(f"must be {problem}")
        return value

    return check


_Dated = TypeVar("_Dated", date, datetime)


def _year_check(value: _Dated) -> _Dated:
    problem = limits.year_problem(value)
    if problem is not None:
        raise ValueError(f"must be {problem}")
    return value


def _utc(value: datetime) -> datetime:
    return _year_check(value).astimezone(UTC)


def bounded_text(limit: int, *, required: bool = False, multiline: bool = False,
          marker: Callable[..., Any] = Field) -> Any:
    """``str`` of at most ``limit`` characters without control characters (``required``:
    not empty); ``marker`` is ``Path`` or ``Query`` for parameters."""
    return Annotated[str, marker(min_length=1 if required else None, max_length=limit),
                     AfterValidator(text_check(limit, multiline=multiline))]


Id = bounded_text(limits.ID, required=True)
AppointmentId = bounded_text(limits.APPOINTMENT_ID, required=True)
Name = bounded_text(limits.NAME, required=True)
Label = bounded_text(limits.NAME)
PersonName = bounded_text(limits.PERSON_NAME, required=True)
Phone = bounded_text(limits.PHONE)
Email = bounded_text(limits.EMAIL)
Reason = bounded_text(limits.REASON, multiline=True)
Note = bounded_text(limits.NOTE, multiline=True)
InsuranceProvider = bounded_text(limits.INSURANCE_PROVIDER)
InsuranceId = bounded_text(limits.INSURANCE_ID)
LicenceNumber = bounded_text(limits.LICENCE_NUMBER)
EncounterRef = bounded_text(limits.ENCOUNTER_REF)
Slug = bounded_text(limits.SLUG, required=True)
RRule = bounded_text(limits.RRULE, required=True)
AccountId = bounded_text(limits.ACCOUNT_ID)
BaseUrl = bounded_text(limits.BASE_URL)
Host = bounded_text(limits.HOST)
Secret = bounded_text(limits.SECRET)
TemplateText = bounded_text(limits.TEMPLATE, multiline=True)
TemplateTextRequired = bounded_text(limits.TEMPLATE, required=True, multiline=True)
TemplateSubject = bounded_text(limits.TEMPLATE_SUBJECT)

Instant = Annotated[AwareDatetime, AfterValidator(_utc),
                    Field(description="ISO 8601 with a UTC offset, years "
                          f"{limits.EARLIEST_YEAR}–{limits.LATEST_YEAR}")]
WallTime = Annotated[NaiveDatetime, AfterValidator(_year_check),
                     Field(description="Local wall-clock date-time in the clinic's zone")]
Day = Annotated[date, AfterValidator(_year_check)]

#: Path and query parameters (FastAPI needs ``Path``/``Query`` markers for those).
IdPath = bounded_text(limits.ID, required=True, marker=Path)
AppointmentIdPath = bounded_text(limits.APPOINTMENT_ID, required=True, marker=Path)
IdQuery = bounded_text(limits.ID, required=True, marker=Query)
