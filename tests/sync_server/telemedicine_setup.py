"""A portal clinic whose check-up is a telemedicine visit: a video link template, a
consent form (EN/ES) for the check-up, and helpers to make uploads of each kind."""

from __future__ import annotations

import struct
import zlib
from datetime import UTC, datetime

from sqlalchemy.orm import Session

from sync_server.db import models as db
from sync_server.telemedicine import consent
from sync_server.telemedicine.models import TelemedicineSettings
from tests.sync_server.portal_setup import PortalClinic

TEMPLATE = "https://meet.example/{room}"
CONSENT_EN = "I agree to be seen by video.\n\nThe clinic keeps my documents private."
CONSENT_ES = "Acepto ser atendido por vídeo.\n\nLa clínica guarda mis documentos en privado."


def make_telemedicine(session: Session, place: PortalClinic, *, with_consent: bool = True
                      ) -> None:
    kind = session.get(db.AppointmentType, place.clinic.type_id)
    assert kind is not None
    kind.telemedicine = True
    session.add(TelemedicineSettings(organization_id=place.clinic.org_id, url_template=TEMPLATE,
                                     updated_at=datetime.now(UTC)))
    if with_consent:
        consent.save_form(session, place.clinic.org_id, kind.id, CONSENT_EN, CONSENT_ES, None,
                          datetime.now(UTC))
    session.commit()


def pdf(size: int = 2000, marker: bytes = b"SECRET-REPORT-TEXT") -> bytes:
    """A small PDF-looking file (its first bytes are what the server checks)."""
    body = b"%PDF-1.4\n% " + marker + b"\r\n"
    return body + b"x" * max(0, size - len(body) - 6) + b"\n%%EOF"


def png() -> bytes:
    """A real 1×1 PNG."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(
            ">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(b"\x00\xff\x00\x00")) + chunk(b"IEND", b""))
