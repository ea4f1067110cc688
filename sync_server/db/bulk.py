"""Many rows into one table, fast, inside the caller's transaction.

* PostgreSQL: ``COPY … FROM STDIN`` through psycopg, each value passed through
  its column type's bind processor first (as an ``INSERT`` would) and the
  columns' scalar defaults filled in. Constraints (the exclusion constraint
  included) and triggers apply to copied rows exactly as to inserted ones.
  Measured on a 1,000-booking push (~5,000 rows): several times faster than
  psycopg's pipelined ``executemany`` of one ``INSERT`` per row, which is what
  SQLAlchemy does otherwise; its multi-row ``VALUES`` batches were slower still.
* SQLite: a Core ``INSERT`` with ``executemany`` (one C loop over a prepared
  statement).

Every row must have the same keys.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any

from sqlalchemy import Dialect, Insert, Table, insert
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from sync_server.db.models import Base

if TYPE_CHECKING:  # psycopg is the ``postgres`` extra: imported only where it is used
    from psycopg import sql


def table(model: type[Base]) -> Table:
    """``model``'s table."""
    return Base.metadata.tables[model.__tablename__]


def insert_rows(session: Session, model: type[Base], rows: list[dict[str, Any]]) -> None:
    """Insert ``rows`` into ``model``'s table (nothing when there are none)."""
    if not rows:
        return
    connection = session.connection()
    dialect = connection.dialect
    if dialect.name != "postgresql":
        session.execute(_insert(model), rows)
        return
    plan = _copy_plan(model, dialect, tuple(rows[0]))
    keys, processors, constants = plan.keys, plan.processors, plan.constants
    cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        with cursor.copy(plan.statement) as copy:
            for row in rows:
                copy.write_row([
                    *(value if process is None else process(value)
                      for value, process in zip([row[k] for k in keys], processors,
                                                strict=True)),
                    *constants])
    except dialect.loaded_dbapi.Error as error:
        # as SQLAlchemy raises it for a statement it ran (IntegrityError for a violated
        # constraint …), so callers handle one kind of database error
        raise DBAPIError.instance(plan.statement.as_string(cursor), None, error,
                                  dialect.loaded_dbapi.Error, dialect=dialect) from error
    finally:
        cursor.close()


@cache
def _insert(model: type[Base]) -> Insert:
    return insert(table(model))


@dataclass(frozen=True, slots=True)
class _CopyPlan:
    statement: sql.Composed
    keys: tuple[str, ...]
    processors: tuple[Callable[[Any], Any] | None, ...]
    constants: tuple[Any, ...]


@cache
def _copy_plan(model: type[Base], dialect: Dialect, keys: tuple[str, ...]) -> _CopyPlan:
    columns = table(model).columns
    unknown = set(keys) - set(columns.keys())
    if unknown:
        raise ValueError(f"{model.__name__} has no column(s) {sorted(unknown)}")
    defaulted: list[tuple[str, Any]] = []
    for column in columns:
        if column.key in keys or column.default is None:
            continue
        value = getattr(column.default, "arg", None)
        if not column.default.is_scalar:
            raise ValueError(f"{model.__name__}.{column.key} has a computed default: "
                             "give it in every row")
        defaulted.append((column.key, value))
    names = [*keys, *(name for name, _ in defaulted)]

    def processor(name: str) -> Callable[[Any], Any] | None:
        # the dialect's own implementation of the type (JSON → psycopg's Json wrapper …)
        return columns[name].type.dialect_impl(dialect).bind_processor(dialect)

    processors = tuple(processor(k) for k in keys)
    constants = tuple(value if (process := processor(name)) is None else process(value)
                      for name, value in defaulted)
    from psycopg import sql

    statement = sql.SQL("COPY {} ({}) FROM STDIN").format(
        sql.Identifier(table(model).name), sql.SQL(", ").join(map(sql.Identifier, names)))
    return _CopyPlan(statement, keys, processors, constants)
