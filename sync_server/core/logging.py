"""Structured logs: one JSON object per line, never request bodies or PHI.

PHI stays out by construction, in three layers: the engines hide bound
parameters (``hide_parameters=True``), messages never format submitted values,
and :class:`PhiRedactionFilter` — installed on the one handler every logger
(ours, uvicorn's, SQLAlchemy's, the root) writes through — rewrites each record
before it is formatted: values of known patient fields, PostgreSQL's
``Key (...)=(...)`` details, e-mail addresses and phone numbers become
``[redacted]``, in the message, its arguments, ``extra`` fields and the
formatted traceback alike.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from datetime import UTC, datetime
from typing import Any, TextIO

#: Attributes passed with ``extra=`` that are copied into the JSON line.
FIELDS = ("request_id", "method", "path", "status", "duration_ms", "client_id", "event")

REDACTED = "[redacted]"

#: Record fields that hold patient data wherever they appear (``name=value``,
#: ``"name": "value"``, ``'name': 'value'``).
PHI_FIELDS = (
    "given_name", "family_name", "patient_name", "name", "phone", "email", "address",
    "date_of_birth", "insurance_provider", "insurance_id", "notes", "patient_notes", "note",
    "reason", "cancel_reason", "override_reason", "q", "password", "totp",
)
_FIELD_NAMES = "|".join(PHI_FIELDS)
_QUOTED_FIELD = re.compile(
    rf"""(?P<key>["']?\b(?:{_FIELD_NAMES})\b["']?\s*[:=]\s*)(?P<q>["'])(?:\\.|(?!(?P=q)).)*(?P=q)""",
    re.IGNORECASE | re.DOTALL)
_BARE_FIELD = re.compile(rf"""(?P<key>\b(?:{_FIELD_NAMES})=)(?!["'])[^\s&,;)\]}}]+""",
                         re.IGNORECASE)
#: PostgreSQL's constraint details quote the offending values: ``Key (email)=(a@b.c)``.
_PG_DETAIL = re.compile(r"(?P<key>\bKey \([^)]*\)=)\((?:[^()]|\([^)]*\))*\)")
_EMAIL = re.compile(r"[\w.!#$%&'*+/=?^`{|}~-]+@[\w-]+(?:\.[\w-]+)+")
#: Seven to fifteen digits, optionally with +, spaces, dots, dashes or parentheses between.
_PHONE = re.compile(r"(?<![\w:.-])\+?\(?\d[\d\s().-]{5,22}\d(?![\w:-])")
_ISO_LIKE = re.compile(r"\d{4}-\d{2}-\d{2}")


def redact(text: str) -> str:
    """``text`` with patient data replaced by ``[redacted]``."""
    text = _PG_DETAIL.sub(lambda m: f"{m['key']}({REDACTED})", text)
    text = _QUOTED_FIELD.sub(lambda m: f"{m['key']}{m['q']}{REDACTED}{m['q']}", text)
    text = _BARE_FIELD.sub(lambda m: f"{m['key']}{REDACTED}", text)
    text = _EMAIL.sub(REDACTED, text)
    return _PHONE.sub(_phone, text)


def _phone(match: re.Match[str]) -> str:
    found = match.group(0)
    digits = sum(ch.isdigit() for ch in found)
    if not 7 <= digits <= 15 or _ISO_LIKE.match(found.lstrip("+(")):
        return found  # a date, a time or a short number: not a phone
    return REDACTED


class PhiRedactionFilter(logging.Filter):
    """Redacts every record that passes through a handler (see the module doc)."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except (TypeError, ValueError):  # a broken format: keep the template only
            message = str(record.msg)
        record.msg, record.args = redact(message), None
        for name in FIELDS:
            value = getattr(record, name, None)
            if isinstance(value, str):
                setattr(record, name, redact(value))
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in FIELDS:
            if hasattr(record, name):
                line[name] = getattr(record, name)
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            line["exception"] = record.exc_text
        return json.dumps(line, ensure_ascii=False)


def log_handler(stream: TextIO | None = None) -> logging.Handler:
    """The server's handler: JSON lines with :class:`PhiRedactionFilter` applied."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(PhiRedactionFilter())
    return handler


def configure_logging(level: str = "INFO", stream: TextIO | None = None) -> logging.Handler:
    """Send every log of the process (ours, uvicorn's, libraries' through the root logger)
    to ``stream`` (stderr) as redacted JSON lines; returns the handler."""
    handler = log_handler(stream)
    for name in ("sync_server", "uvicorn", "uvicorn.error"):
        logger = logging.getLogger(name)
        logger.handlers[:] = [handler]
        logger.setLevel(level.upper())
        logger.propagate = False
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(max(logging.WARNING, logging.getLevelName(level.upper())))
    # uvicorn's access log prints raw URLs; ours (sync_server.access) replaces it.
    logging.getLogger("uvicorn.access").disabled = True
    return handler
