"""Judging a command under its locks: read what committed before them, load the calendar
state, run the rules (again over the alternatives' horizon for a refusal)."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from sqlalchemy.orm import Session

from scheduling.commands import Accepted, Command, Policy, Refused
from scheduling.refusals import OFFERS_ALTERNATIVES
from scheduling.rules import check
from scheduling.state import CalendarState
from sync_server.db import models as db
from sync_server.services.calendar import (
    Config,
    Scope,
    add_appointments,
    load_state,
    read_longest_block,
)
from sync_server.services.unit_of_work import unit_of


def _judge(
    session: Session, org: str, scope: Scope, command: Command, now: datetime, policy: Policy,
    config: Config | None = None, *, alternatives_of: frozenset[str] | None = None,
) -> tuple[CalendarState, Accepted | Refused]:
    """Judge ``command`` on the state for ``scope`` (``config``: the clinic's, holding
    every resource of ``scope``; read from the tables when left out).

    ``alternatives_of``: every resource a refusal's alternatives may use with the wanted
    provider (the providers named, and the type's candidate rooms and equipment); the
    horizon is then read for those and the patient only, not for the whole clinic."""
    _refresh(session)  # locks are held now: read what committed before them
    # PostgreSQL reads the longest block with the appointments (one statement fewer)
    longest = None if session.get_bind().dialect.name == "postgresql" \
        else read_longest_block(session, org)
    # Alternatives are searched up to the horizon: a refusal is judged again on the
    # state extended to span it, so every alternative offered is really free. Its
    # dated records (a handful of rows) are read for that span at once.
    wide = replace(scope, pad_days=policy.alternatives_horizon_days + 1, near=None)
    if alternatives_of is not None:
        wide = replace(wide, resource_ids=scope.resource_ids | alternatives_of,
                       only_resources=True)
    state = load_state(session, org, scope, config=config, longest_block=longest,
                       dated_for=wide)
    outcome = check(command, state, now, replace(policy, max_alternatives=0))
    if isinstance(outcome, Refused) and outcome.code in OFFERS_ALTERNATIVES:
        add_appointments(session, state, wide, longest)
        outcome = check(command, state, now, policy)
    return state, outcome


_KEEP_IN_BATCH: tuple[type[db.Base], ...] = (
    *db.CONFIGURATION_TABLES, db.Device, db.AuditHead, db.ClientMutation, db.OrgVersion)


def _refresh(session: Session) -> None:
    """Expire what was read before the locks (everything, or in a batch all but the
    configuration and the batch's own bookkeeping rows)."""
    if not unit_of(session).batch:
        session.expire_all()
        return
    for obj in list(session.identity_map.values()):
        if not isinstance(obj, _KEEP_IN_BATCH):
            session.expire(obj)
