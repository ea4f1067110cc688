"""Reading a record by its id alone in tests (ids are unique per organization, and the
tests' ids are fresh UUIDs: one organization has each)."""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

T = TypeVar("T")


def by_id(session: Session, model: type[T], record_id: str) -> T | None:
    """The record of ``model`` with ``record_id`` (in whichever organization has it)."""
    table: Any = model
    return session.scalars(select(model).where(table.id == record_id)).one_or_none()
