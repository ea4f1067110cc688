"""The channels a notification goes by: e-mail over SMTP, SMS through an HTTP gateway shaped
like Twilio's Messages API, and the desk (the staff's exceptions panel).

A send either returns the provider's message id or raises :class:`SendFailed` with a
stable code and whether trying again later may help (``transient``). Codes and log
lines never hold an address or a phone number.
"""

from __future__ import annotations

import base64
import re
import secrets
import smtplib
import ssl
from dataclasses import dataclass
from email.header import Header
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.utils import formataddr, formatdate, parseaddr
from typing import TYPE_CHECKING, cast

import httpx

from sync_server.notifications.messages import Rendered

if TYPE_CHECKING:
    from sync_server.notifications.models import NotificationSettings

_EMAIL = re.compile(r"^[^@\s<>\"]+@[^@\s<>\"]+\.[^@\s<>\".]{2,}$")
_PHONE = re.compile(r"^\+?[1-9]\d{6,14}$")


class SendFailed(Exception):
    """A send that did not happen: ``code`` (stable, no contact data), ``transient``."""

    def __init__(self, code: str, transient: bool) -> None:
        super().__init__(code)
        self.code, self.transient = code, transient


def valid_email(address: str) -> bool:
    return bool(_EMAIL.match(address.strip()))


def normalized_phone(number: str) -> str | None:
    """``"+1 (555) 010-0142"`` → ``"+15550100142"``; ``None`` when it is no phone number."""
    digits = re.sub(r"[\s().\-]", "", number)
    return digits if _PHONE.match(digits) else None


def email_hint(address: str) -> str:
    local, _, domain = address.strip().partition("@")
    return f"{local[:1]}…@{domain}"[:64]


def phone_hint(number: str) -> str:
    digits = normalized_phone(number) or ""
    country = "+" + digits.lstrip("+")[:1] if digits.startswith("+") else ""
    return f"{country} …{digits[-2:]}".strip()


# --------------------------------------------------------------------------- e-mail


@dataclass(frozen=True, slots=True)
class SmtpConfig:
    host: str
    port: int
    username: str | None
    password: str | None
    starttls: bool
    sender: str
    timeout: float = 20.0


class EmailChannel:
    """One SMTP connection, kept open between messages and opened again when it drops."""

    def __init__(self, config: SmtpConfig) -> None:
        self.config = config
        self._smtp: smtplib.SMTP | None = None

    def send(self, to: str, message: Rendered, *, message_id: str,
             attachment: bytes | None = None, language: str = "en") -> str:
        if not valid_email(to):
            raise SendFailed("invalid_email", transient=False)
        to = to.strip()
        mail = compose(self.config.sender, to, message, message_id=message_id,
                       attachment=attachment, language=language)
        envelope = parseaddr(self.config.sender)[1] or self.config.sender
        for attempt in (1, 2):  # a kept connection the server closed meanwhile: once more
            try:
                if isinstance(mail, bytes):
                    self._connection().sendmail(envelope, [to], mail)
                else:
                    self._connection().send_message(mail)
                return message_id
            except smtplib.SMTPRecipientsRefused:
                raise SendFailed("smtp_refused", transient=False) from None
            except smtplib.SMTPResponseException as error:
                self.close()
                raise SendFailed("smtp_refused" if error.smtp_code >= 500
                                 else "smtp_unavailable", transient=error.smtp_code < 500) \
                    from None
            except (smtplib.SMTPServerDisconnected, ConnectionResetError):
                self.close()
                if attempt == 2:
                    raise SendFailed("smtp_unavailable", transient=True) from None
            except (OSError, smtplib.SMTPException):
                self.close()
                raise SendFailed("smtp_unavailable", transient=True) from None
        raise SendFailed("smtp_unavailable", transient=True)

    def _connection(self) -> smtplib.SMTP:
        if self._smtp is None:
            smtp = smtplib.SMTP(self.config.host, self.config.port, timeout=self.config.timeout)
            if self.config.starttls:
                smtp.starttls(context=ssl.create_default_context())
            if self.config.username:
                smtp.login(self.config.username, self.config.password or "")
            self._smtp = smtp
        return self._smtp

    def close(self) -> None:
        smtp, self._smtp = self._smtp, None
        if smtp is not None:
            try:
                smtp.quit()
            except (OSError, smtplib.SMTPException):
                smtp.close()


def compose(sender: str, to: str, message: Rendered, *, message_id: str,
            attachment: bytes | None, language: str) -> bytes | MIMEMultipart:
    """multipart/mixed: (text, HTML) alternatives and the .ics, written straight to bytes
    (CRLF lines, base64 parts, an RFC 2047 subject). The ``email`` package's generator
    re-folds every header of every part and was the worker's largest cost per message.
    Addresses outside ASCII (which need SMTPUTF8) take the ``email.mime`` path."""
    if not (_plain_header(sender) and _plain_header(to) and _plain_header(message_id)):
        return compose_mime(sender, to, message, message_id=message_id,
                            attachment=attachment, language=language)
    token = secrets.token_hex(12)
    # "=_" never occurs in base64 text: the boundaries cannot collide with a body.
    mixed, alternative = f"=_m{token}", f"=_a{token}"
    parts = [
        f"Content-Type: multipart/mixed; boundary=\"{mixed}\"\r\nMIME-Version: 1.0\r\n"
        f"From: {sender}\r\nTo: {to}\r\nSubject: {_subject(message.subject or '')}\r\n"
        f"Message-ID: {message_id}\r\nDate: {formatdate(localtime=False)}\r\n"
        f"Content-Language: {language}\r\nAuto-Submitted: auto-generated\r\n\r\n"
        f"--{mixed}\r\nContent-Type: multipart/alternative; boundary=\"{alternative}\"\r\n"
        f"MIME-Version: 1.0\r\n\r\n--{alternative}\r\n".encode("ascii"),
        _part("text/plain", message.text.encode("utf-8"))]
    if message.html:
        parts += [f"--{alternative}\r\n".encode("ascii"),
                  _part("text/html", message.html.encode("utf-8"))]
    parts.append(f"--{alternative}--\r\n".encode("ascii"))
    if attachment is not None:
        parts += [f"--{mixed}\r\n".encode("ascii"),
                  _part("text/calendar", attachment,
                        'Content-Disposition: attachment; filename="appointment.ics"\r\n')]
    parts.append(f"--{mixed}--\r\n".encode("ascii"))
    return b"".join(parts)


def _plain_header(value: str) -> bool:
    return value.isascii() and "\r" not in value and "\n" not in value


def _subject(subject: str) -> str:
    """As it is when short plain ASCII, else RFC 2047 base64 words of at most 45 bytes
    (whole UTF-8 characters), one per folded line."""
    if _plain_header(subject) and len(subject) <= 68:
        return subject
    data, words, start = subject.encode("utf-8"), [], 0
    while start < len(data):
        end = min(start + 45, len(data))
        while end < len(data) and data[end] & 0xC0 == 0x80:  # not inside a character
            end -= 1
        words.append(f"=?utf-8?b?{base64.b64encode(data[start:end]).decode('ascii')}?=")
        start = end
    return "\r\n ".join(words)


def _part(content_type: str, content: bytes, extra: str = "") -> bytes:
    head = (f'Content-Type: {content_type}; charset="utf-8"\r\nMIME-Version: 1.0\r\n'
            f"Content-Transfer-Encoding: base64\r\n{extra}\r\n")
    return head.encode("ascii") + base64.encodebytes(content).replace(b"\n", b"\r\n")


def compose_mime(sender: str, to: str, message: Rendered, *, message_id: str,
                 attachment: bytes | None, language: str) -> MIMEMultipart:
    """The same message as ``email.mime`` objects (compat32 policy)."""
    body = MIMEMultipart("alternative")
    body.attach(MIMEText(message.text, "plain", "utf-8"))
    if message.html:
        body.attach(MIMEText(message.html, "html", "utf-8"))
    mail = MIMEMultipart("mixed")
    mail.attach(body)
    if attachment is not None:
        calendar = MIMEText(attachment.decode("utf-8"), "calendar", "utf-8")
        calendar.add_header("Content-Disposition", "attachment", filename="appointment.ics")
        mail.attach(calendar)
    mail["From"] = sender
    mail["To"] = to
    # A Header object is what compat32 encodes (RFC 2047) when it writes the message.
    mail["Subject"] = cast(str, Header(message.subject or "", "utf-8"))
    mail["Message-ID"] = message_id
    mail["Date"] = formatdate(localtime=False)
    mail["Content-Language"] = language
    mail["Auto-Submitted"] = "auto-generated"
    return mail


# --------------------------------------------------------------------------- SMS


@dataclass(frozen=True, slots=True)
class SmsConfig:
    gateway_url: str
    account_id: str
    api_key: str
    sender: str
    timeout: float = 10.0


class SmsChannel:
    """Twilio's shape: ``POST {gateway}/2010-04-01/Accounts/{AccountSid}/Messages.json``,
    form-encoded ``To``/``From``/``Body``, HTTP basic auth (account id, key), answers a
    JSON object with the message ``sid``. The notification's id travels as the
    ``Idempotency-Key`` header: a gateway that honours it answers a repeated send with
    the first message instead of sending it twice."""

    def __init__(self, config: SmsConfig) -> None:
        self.config = config
        self._client = httpx.Client(timeout=config.timeout,
                                    auth=(config.account_id, config.api_key))

    def send(self, to: str, message: Rendered, *, idempotency_key: str) -> str:
        number = normalized_phone(to)
        if number is None:
            raise SendFailed("invalid_phone", transient=False)
        url = (f"{self.config.gateway_url.rstrip('/')}/2010-04-01/Accounts/"
               f"{self.config.account_id}/Messages.json")
        try:
            answer = self._client.post(url, data={"To": number, "From": self.config.sender,
                                                  "Body": message.text},
                                       headers={"Idempotency-Key": idempotency_key})
        except httpx.HTTPError:
            raise SendFailed("gateway_unavailable", transient=True) from None
        if answer.status_code >= 500 or answer.status_code == 429:
            raise SendFailed("gateway_unavailable", transient=True)
        if answer.status_code >= 400:
            code = "invalid_phone" if _gateway_code(answer) == 21211 else "gateway_failed"
            raise SendFailed(code, transient=False)
        try:
            sid = answer.json()["sid"]
        except (ValueError, KeyError, TypeError):
            raise SendFailed("gateway_failed", transient=False) from None
        return str(sid)

    def close(self) -> None:
        self._client.close()


def _gateway_code(answer: httpx.Response) -> int | None:
    try:
        code = answer.json().get("code")
    except (ValueError, AttributeError):
        return None
    return code if isinstance(code, int) else None


def sender_address(name: str, address: str) -> str:
    return formataddr((name, address)) if name else address


def email_channel(settings: NotificationSettings) -> EmailChannel:
    """The e-mail channel an organization's saved settings describe."""
    return EmailChannel(SmtpConfig(settings.smtp_host, settings.smtp_port,
                                   settings.smtp_username, settings.smtp_password,
                                   settings.smtp_starttls, settings.email_sender))


def sms_channel(settings: NotificationSettings) -> SmsChannel:
    """The SMS channel an organization's saved settings describe."""
    return SmsChannel(SmsConfig(settings.sms_gateway_url, settings.sms_account_id or "",
                                settings.sms_api_key or "", settings.sms_sender))
