"""Pre-visit documents: checked, sealed and stored; listed and opened for staff.

A document is accepted when its content is a PDF, JPEG or PNG (by its first bytes, not
its name), its name's extension says the same type, it is at most :data:`MAX_BYTES`
and the appointment has fewer than :data:`MAX_FILES`. Content and file name are sealed
with AES-256-GCM (a fresh 96-bit nonce each; the row's organization, appointment and id
as associated data, so a sealed value copied to another row does not open). The key is
the server's document key (``CLINICDESK_DOCUMENT_KEY``, docs/deploy.md). File names are
patient data: they appear only decrypted in the staff's answers, never in a log or URL.
"""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass
from datetime import datetime

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from scheduling import limits
from scheduling.refusals import N_
from sync_server.telemedicine.models import VisitDocument

MAX_BYTES = 10 * 1024 * 1024
MAX_FILES = 10
MAX_NAME = 200
#: Sniffed type → (its magic prefix, the extensions its name may have).
TYPES = {
    "application/pdf": (b"%PDF-", (".pdf",)),
    "image/jpeg": (b"\xff\xd8\xff", (".jpg", ".jpeg")),
    "image/png": (b"\x89PNG\r\n\x1a\n", (".png",)),
}
_NONCE = 12


class DocumentRefused(ValueError):
    """An upload that is not stored: ``code`` for tests and audit, ``message`` (a msgid)
    for the patient."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(code)
        self.code, self.message = code, message


@dataclass(frozen=True, slots=True)
class DocumentInfo:
    id: str
    name: str
    content_type: str
    size: int
    uploaded_at: datetime


class Sealer:
    """AES-256-GCM with the server's document key."""

    def __init__(self, key: bytes) -> None:
        self._aead = AESGCM(key)

    def seal(self, plain: bytes, context: str) -> bytes:
        nonce = os.urandom(_NONCE)
        return nonce + self._aead.encrypt(nonce, plain, context.encode())

    def open(self, sealed: bytes, context: str) -> bytes:
        """The plain bytes; ``ValueError`` when the key or the row is not the one sealed."""
        try:
            return self._aead.decrypt(sealed[:_NONCE], sealed[_NONCE:], context.encode())
        except InvalidTag:
            raise ValueError("The document does not open with this server's document key.") \
                from None


def sniff(content: bytes) -> str | None:
    """The content's type by its first bytes (``None``: not a PDF, JPEG or PNG)."""
    for content_type, (magic, _extensions) in TYPES.items():
        if content.startswith(magic):
            return content_type
    return None


def check(name: str, content: bytes, stored: int) -> str:
    """The sniffed type of an acceptable upload, or :class:`DocumentRefused`."""
    if not content:
        raise DocumentRefused("empty", N_("Choose a file to send."))
    if len(content) > MAX_BYTES:
        raise DocumentRefused("too_large", N_("The file is larger than 10 MB. Send a smaller "
                                              "file or a photo of lower resolution."))
    if stored >= MAX_FILES:
        raise DocumentRefused("too_many", N_("You have already sent 10 files for this "
                                             "appointment, the most we accept."))
    if limits.text_problem(name, MAX_NAME) is not None or not name.strip():
        raise DocumentRefused("bad_name", N_("The file name is too long or has characters we "
                                             "cannot keep. Rename the file and try again."))
    content_type = sniff(content)
    if content_type is None:
        raise DocumentRefused("wrong_type", N_("We accept PDF, JPEG and PNG files only."))
    if not name.lower().endswith(TYPES[content_type][1]):
        raise DocumentRefused("disguised", N_("The file's content does not match its name. "
                                              "Send PDF, JPEG or PNG files with their own "
                                              "extension."))
    return content_type


def count(session: Session, organization_id: str, appointment_id: str) -> int:
    return session.scalar(select(func.count()).select_from(VisitDocument).where(
        VisitDocument.organization_id == organization_id,
        VisitDocument.appointment_id == appointment_id)) or 0


def store(session: Session, sealer: Sealer, organization_id: str, appointment_id: str,
          name: str, content: bytes, now: datetime) -> VisitDocument:
    """Check and seal one upload (the caller commits); :class:`DocumentRefused` when it is
    not acceptable, and then nothing is written."""
    content_type = check(name, content, count(session, organization_id, appointment_id))
    document_id = str(uuid.uuid4())
    context = _context(organization_id, appointment_id, document_id)
    row = VisitDocument(id=document_id, organization_id=organization_id,
                        appointment_id=appointment_id, content_type=content_type,
                        size=len(content), uploaded_at=now,
                        name_sealed=sealer.seal(name.encode(), context + ":name"),
                        content_sealed=sealer.seal(content, context))
    session.add(row)
    return row


def listed(session: Session, sealer: Sealer, organization_id: str,
           appointment_id: str) -> list[DocumentInfo]:
    rows = session.execute(select(
        VisitDocument.id, VisitDocument.content_type, VisitDocument.size,
        VisitDocument.uploaded_at, VisitDocument.name_sealed).where(
        VisitDocument.organization_id == organization_id,
        VisitDocument.appointment_id == appointment_id).order_by(VisitDocument.uploaded_at))
    return [DocumentInfo(row.id, _name(sealer, organization_id, appointment_id, row.id,
                                       row.name_sealed),
                         row.content_type, row.size, row.uploaded_at) for row in rows]


def opened(session: Session, sealer: Sealer, organization_id: str, appointment_id: str,
           document_id: str) -> tuple[DocumentInfo, bytes] | None:
    """The document and its content, or ``None`` when the appointment has no such one."""
    row = session.get(VisitDocument, document_id)
    if row is None or row.organization_id != organization_id \
            or row.appointment_id != appointment_id:
        return None
    context = _context(organization_id, appointment_id, row.id)
    info = DocumentInfo(row.id, _name(sealer, organization_id, appointment_id, row.id,
                                      row.name_sealed), row.content_type, row.size,
                        row.uploaded_at)
    return info, sealer.open(row.content_sealed, context)


def _name(sealer: Sealer, organization_id: str, appointment_id: str, document_id: str,
          sealed: bytes) -> str:
    context = _context(organization_id, appointment_id, document_id) + ":name"
    return sealer.open(sealed, context).decode()


def _context(organization_id: str, appointment_id: str, document_id: str) -> str:
    return f"{organization_id}:{appointment_id}:{document_id}"
