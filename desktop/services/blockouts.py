"""Blockouts on the desk: block a clinic's or one resource's time, or lift a block.

Blocking needs ``admin:config``. The mirror table has no tombstone column, so a
lifted blockout is deleted locally at once; if the server refuses the lift, the
next pull brings the row back.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import select

from desktop.services.context import DeskContext, add_event, not_permitted, refusal, require
from desktop.services.dto import ActionResult, BlockoutDTO, RefusalDTO
from desktop.store import outbox
from desktop.store.models import BlockoutRow, ClinicRow
from scheduling import intents
from scheduling.commands import Permission
from scheduling.model import Blockout
from scheduling.refusals import RefusalCode
from scheduling.timeutil import day_bounds

CONFIGURE = "admin:config"


def create(
    ctx: DeskContext,
    *,
    clinic_id: str,
    start: datetime,
    end: datetime,
    resource_id: str | None = None,
    reason: str = "",
) -> ActionResult:
    """Block ``[start, end)``; raises ``InvalidIntervalError`` when end is not after start."""
    user = ctx.user()
    record = Blockout(ctx.new_id(), clinic_id, start, end, resource_id, reason.strip())
    now = ctx.now()
    with ctx.store.write() as session:
        why: RefusalDTO | None = None
        if CONFIGURE not in user.permissions:
            why = not_permitted("block time")
        elif session.get(ClinicRow, clinic_id) is None:
            why = refusal(RefusalCode.UNKNOWN_RECORD, kind="clinic")
        if why is not None:
            add_event(session, now, user.user_id, intents.BLOCKOUT_CREATE, record.id, "refused",
                      why.code)
            return ActionResult(False, refusal=why)
        mutation_id = outbox.append(session, intents.BLOCKOUT_CREATE,
                                    intents.blockout_create(record), now=now, user_id=user.user_id)
        session.add(BlockoutRow(id=record.id, clinic_id=clinic_id, start=record.start,
                                end=record.end, resource_id=resource_id, reason=record.reason,
                                pending_mutation_id=mutation_id))
        add_event(session, now, user.user_id, intents.BLOCKOUT_CREATE, record.id, "accepted")
    return ActionResult(True, mutation_id=mutation_id, record_id=record.id)


def delete(ctx: DeskContext, blockout_id: str) -> ActionResult:
    user = ctx.user()
    now = ctx.now()
    with ctx.store.write() as session:
        row = session.get(BlockoutRow, blockout_id)
        why: RefusalDTO | None = None
        if CONFIGURE not in user.permissions:
            why = not_permitted("lift blocked time")
        elif row is None:
            why = refusal(RefusalCode.UNKNOWN_RECORD, kind="blockout")
        if why is not None or row is None:
            assert why is not None
            add_event(session, now, user.user_id, intents.BLOCKOUT_DELETE, blockout_id,
                      "refused", why.code)
            return ActionResult(False, refusal=why)
        mutation_id = outbox.append(session, intents.BLOCKOUT_DELETE,
                                    intents.blockout_delete(blockout_id), now=now,
                                    user_id=user.user_id)
        session.delete(row)
        add_event(session, now, user.user_id, intents.BLOCKOUT_DELETE, blockout_id, "accepted")
    return ActionResult(True, mutation_id=mutation_id, record_id=blockout_id)


def between(
    ctx: DeskContext, clinic_id: str, first_day: date, last_day: date
) -> tuple[BlockoutDTO, ...]:
    """The clinic's blockouts overlapping local days ``first_day``..``last_day``."""
    require(ctx, Permission.VIEW_CALENDAR.value, "see the calendar")
    with ctx.store.session() as session:
        clinic = session.get(ClinicRow, clinic_id)
        if clinic is None:
            return ()
        start, _ = day_bounds(first_day, clinic.time_zone)
        _, end = day_bounds(last_day, clinic.time_zone)
        rows = session.scalars(select(BlockoutRow).where(
            BlockoutRow.clinic_id == clinic_id, BlockoutRow.start < end, BlockoutRow.end > start,
        ).order_by(BlockoutRow.start)).all()
        return tuple(BlockoutDTO(r.id, r.clinic_id, r.start, r.end, r.resource_id, r.reason,
                                 r.pending_mutation_id is not None) for r in rows)
