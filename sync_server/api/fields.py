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
from typing import Annotated, TypeVar

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


Id = Annotated[str, Field(min_length=1, max_length=limits.ID),
               AfterValidator(text_check(limits.ID))]
AppointmentId = Annotated[str, Field(min_length=1, max_length=limits.APPOINTMENT_ID),
                          AfterValidator(text_check(limits.APPOINTMENT_ID))]
Name = Annotated[str, Field(min_length=1, max_length=limits.NAME),
                 AfterValidator(text_check(limits.NAME))]
Label = Annotated[str, Field(max_length=limits.NAME), AfterValidator(text_check(limits.NAME))]
PersonName = Annotated[str, Field(min_length=1, max_length=limits.PERSON_NAME),
                       AfterValidator(text_check(limits.PERSON_NAME))]
Phone = Annotated[str, Field(max_length=limits.PHONE), AfterValidator(text_check(limits.PHONE))]
Email = Annotated[str, Field(max_length=limits.EMAIL), AfterValidator(text_check(limits.EMAIL))]
Reason = Annotated[str, Field(max_length=limits.REASON),
                   AfterValidator(text_check(limits.REASON, multiline=True))]
Note = Annotated[str, Field(max_length=limits.NOTE),
                 AfterValidator(text_check(limits.NOTE, multiline=True))]
InsuranceProvider = Annotated[str, Field(max_length=limits.INSURANCE_PROVIDER),
                              AfterValidator(text_check(limits.INSURANCE_PROVIDER))]
InsuranceId = Annotated[str, Field(max_length=limits.INSURANCE_ID),
                        AfterValidator(text_check(limits.INSURANCE_ID))]
Slug = Annotated[str, Field(min_length=1, max_length=limits.SLUG),
                 AfterValidator(text_check(limits.SLUG))]
RRule = Annotated[str, Field(min_length=1, max_length=limits.RRULE),
                  AfterValidator(text_check(limits.RRULE))]

Instant = Annotated[AwareDatetime, AfterValidator(_utc),
                    Field(description="ISO 8601 with a UTC offset, years "
                          f"{limits.EARLIEST_YEAR}–{limits.LATEST_YEAR}")]
WallTime = Annotated[NaiveDatetime, AfterValidator(_year_check),
                     Field(description="Local wall-clock date-time in the clinic's zone")]
Day = Annotated[date, AfterValidator(_year_check)]

#: Path and query parameters (FastAPI needs ``Path``/``Query`` markers for those).
IdPath = Annotated[str, Path(min_length=1, max_length=limits.ID),
                   AfterValidator(text_check(limits.ID))]
AppointmentIdPath = Annotated[str, Path(min_length=1, max_length=limits.APPOINTMENT_ID),
                              AfterValidator(text_check(limits.APPOINTMENT_ID))]
IdQuery = Annotated[str, Query(min_length=1, max_length=limits.ID),
                    AfterValidator(text_check(limits.ID))]
