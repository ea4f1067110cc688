"""Converters from the domain's records and refusals to the small DTOs screens get.

Rows ↔ records is :mod:`desktop.store.row_mapping`'s job; this module starts from records.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from desktop.services.dto import AlternativeDTO, AppointmentDTO, RefusalDTO
from scheduling.commands import Alternative, Refused
from scheduling.model import Appointment

# --------------------------------------------------------------------------- records → DTOs


def appointment_dto(record: Appointment, pending: bool) -> AppointmentDTO:
    return AppointmentDTO(
        id=record.id,
        clinic_id=record.clinic_id,
        patient_id=record.patient_id,
        appointment_type_id=record.appointment_type_id,
        provider_id=record.provider_id,
        start=record.start,
        end=record.end,
        status=record.status.value,
        room_id=record.room_id,
        equipment_ids=tuple(record.equipment_ids),
        source=record.source.value,
        notes=record.notes,
        series_id=record.series_id,
        version=record.version,
        pending=pending,
    )


def alternative_dto(alternative: Alternative) -> AlternativeDTO:
    return AlternativeDTO(alternative.start, alternative.end, alternative.provider_id,
                          alternative.room_id, tuple(alternative.equipment_ids))


def refusal_dto(refused: Refused) -> RefusalDTO:
    return RefusalDTO(
        code=refused.code.value,
        message_id=refused.message_id,
        params=frozen(refused.params),
        alternatives=tuple(alternative_dto(a) for a in refused.alternatives),
        overridable=refused.overridable,
    )


def frozen(params: Mapping[str, Any]) -> Mapping[str, Any]:
    """A read-only copy of a parameter mapping."""
    return MappingProxyType(dict(params))
