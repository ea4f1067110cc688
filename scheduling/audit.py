"""Audit records: what every command tried and how it ended.

The domain produces the record; the desk and the server persist it (the
server append-only and hash-chained). Records name ids, never patient data,
so an audit trail can be shown to an auditor without exposing PHI.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from scheduling.commands import (
    Accepted,
    BookAppointment,
    CancelAppointment,
    ChangeDetails,
    ChangeStatus,
    Command,
    MoveAppointment,
    Outcome,
    Refused,
    ResizeAppointment,
    UndoStatus,
)
from scheduling.refusals import RefusalCode
from scheduling.timeutil import require_aware


class AuditOutcome(StrEnum):
    ACCEPTED = "accepted"
    OVERRIDDEN = "accepted_with_override"
    PENDING_APPROVAL = "pending_approval"
    REFUSED = "refused"


@dataclass(frozen=True, slots=True)
class AuditRecord:
    at: datetime
    actor_id: str
    device_id: str | None
    intent: str
    target: str
    outcome: AuditOutcome
    reason: str = ""


INTENTS: dict[type, str] = {
    BookAppointment: "appointment.book",
    MoveAppointment: "appointment.move",
    ResizeAppointment: "appointment.resize",
    CancelAppointment: "appointment.cancel",
    ChangeStatus: "appointment.change_status",
    UndoStatus: "appointment.undo_status",
    ChangeDetails: "appointment.change_details",
}


def audit_record(command: Command, outcome: Outcome, at: datetime) -> AuditRecord:
    """The audit record of ``command`` ending in ``outcome`` at ``at``.

    An override says which refusals were overridden and the reason given; a refusal
    gives its code; a status change gives the target status.
    """
    intent = INTENTS[type(command)]
    if isinstance(command, ChangeStatus):
        intent = f"{intent}:{command.status.value}"
    if isinstance(outcome, Refused):
        result, reason = AuditOutcome.REFUSED, outcome.code.value
    elif isinstance(outcome, Accepted) and outcome.overridden:
        codes = ",".join(code.value for code in outcome.overridden)
        result, reason = AuditOutcome.OVERRIDDEN, f"override {codes}: {outcome.override_reason}"
    elif isinstance(outcome, Accepted) and RefusalCode.NEEDS_APPROVAL in outcome.notices:
        result = AuditOutcome.PENDING_APPROVAL
        reason = ",".join(code.value for code in outcome.notices)
    elif isinstance(outcome, Accepted) and outcome.notices:  # e.g. a late cancellation
        result = AuditOutcome.ACCEPTED
        reason = ",".join(code.value for code in outcome.notices)
    else:
        result, reason = AuditOutcome.ACCEPTED, ""
        if isinstance(command, CancelAppointment):
            reason = "cancelled by request"
    return AuditRecord(
        at=require_aware(at, "at"),
        actor_id=command.actor.user_id,
        device_id=command.actor.device_id,
        intent=intent,
        target=command.appointment_id,
        outcome=result,
        reason=reason,
    )
