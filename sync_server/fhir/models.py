"""Tables of the hand-off and FHIR clients (migration 0010_fhir_clients).

A *client* is a patient-facing application an administrator registered for one
organization: it may send patients to the portal with a ``returnUrl`` on its
allow-list, and it reads the FHIR API with its credentials. Only the SHA-256 of
its secret is stored (256 random bits, shown once). A *hand-off* is one patient
sent by a client (seed 004): the client's opaque ``state`` (echoed untouched;
unique per client, so a reused state is refused), where to return, and how it
ended. A *result token* is the single-use, short-lived secret the return carries
for the back channel; only its SHA-256 is stored.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from sync_server.db.models import APPOINTMENT_ID, ID, Base, org_fk

#: Longest ``state`` a client may send (seed 004: an opaque correlation handle).
MAX_STATE_LENGTH = 512
MAX_URL_LENGTH = 2000


class FhirClient(Base):
    __tablename__ = "fhir_clients"
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    organization_id: Mapped[str] = org_fk()
    name: Mapped[str] = mapped_column(String(200))
    #: The public identifier the client authenticates with (``client_id``).
    client_id: Mapped[str] = mapped_column(String(64), unique=True)
    secret_hash: Mapped[str] = mapped_column(String(64))
    #: Allowed return URLs: exact, or ending in ``*`` for a scheme+host+path prefix.
    return_urls: Mapped[list[Any]]
    scopes: Mapped[list[Any]]
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime]
    created_by_user_id: Mapped[str | None] = mapped_column(ID)
    updated_at: Mapped[datetime]


class Handoff(Base):
    __tablename__ = "fhir_handoffs"
    __table_args__ = (
        UniqueConstraint("client_id", "state_hash", name="uq_fhir_handoffs_client_state"),
        Index("ix_fhir_handoffs_org_created", "organization_id", "created_at"),
    )
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    organization_id: Mapped[str] = org_fk()
    client_id: Mapped[str] = mapped_column(ID, ForeignKey("fhir_clients.id", ondelete="CASCADE"))
    #: The client's ``state``, echoed untouched on return; its SHA-256 makes it unique.
    state: Mapped[str] = mapped_column(String(MAX_STATE_LENGTH))
    state_hash: Mapped[str] = mapped_column(String(64))
    return_url: Mapped[str] = mapped_column(String(MAX_URL_LENGTH))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    outcome: Mapped[str | None] = mapped_column(String(20))
    reason: Mapped[str | None] = mapped_column(String(20))
    appointment_id: Mapped[str | None] = mapped_column(APPOINTMENT_ID, index=True)


class ResultToken(Base):
    __tablename__ = "fhir_result_tokens"
    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    organization_id: Mapped[str] = org_fk()
    client_id: Mapped[str] = mapped_column(ID, ForeignKey("fhir_clients.id", ondelete="CASCADE"))
    handoff_id: Mapped[str] = mapped_column(ID, ForeignKey("fhir_handoffs.id",
                                                           ondelete="CASCADE"), index=True)
    appointment_id: Mapped[str] = mapped_column(APPOINTMENT_ID)
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]


class FhirPublication(Base):
    """An organization's published slot data: when it last changed (the manifest's
    ``transactionTime``) and a digest of its locations and schedules. Its row lock
    serializes refreshes."""

    __tablename__ = "fhir_publications"
    organization_id: Mapped[str] = mapped_column(
        ID, ForeignKey("organizations.id", ondelete="CASCADE"), primary_key=True)
    changed_at: Mapped[datetime]
    digest: Mapped[str] = mapped_column(String(64))


class FhirSlotState(Base):
    """A published slot's last status and when it changed (for ``_since``); no patient data."""

    __tablename__ = "fhir_slot_states"
    __table_args__ = (Index("ix_fhir_slot_states_org_changed", "organization_id", "changed_at"),)
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    organization_id: Mapped[str] = org_fk()
    schedule_id: Mapped[str] = mapped_column(String(64))
    start_at: Mapped[datetime]
    end_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(20))
    changed_at: Mapped[datetime]
