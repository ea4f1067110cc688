"""The channels a notification goes by: e-mail over SMTP, SMS through an HTTP gateway shaped
like Twilio's Messages API, and the desk (the staff's exceptions panel).

A send either returns the provider's message id or raises :class:`SendFailed` with a
stable code and whether trying again later may help (``transient``). Codes and log
lines never hold an address or a phone number.
"""

from __future__ import annotations

import re
import smtplib
import ssl
from dataclasses import dataclass
from email.header import Header
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.utils import formataddr, formatdate
from typing import cast

import httpx

from sync_server.notifications.messages import Rendered

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
        mail = compose(self.config.sender, to.strip(), message, message_id=message_id,
                       attachment=attachment, language=language)
        for attempt in (1, 2):  # a kept connection the server closed meanwhile: once more
            try:
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
            attachment: bytes | None, language: str) -> MIMEMultipart:
    """multipart/mixed: (text, HTML) alternatives and the .ics. The ``email.mime`` classes
    (compat32 policy) serialize several times faster than ``EmailMessage``'s header
    registry, which the worker would otherwise spend most of its time in."""
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
