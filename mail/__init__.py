"""Outgoing mail: SMTP when SMTP_HOST is set, otherwise .eml files in DATA_DIR/outbox/."""

from __future__ import annotations

import asyncio
import logging
import re
import uuid
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import formataddr, make_msgid
from pathlib import Path
from typing import Protocol

import aiosmtplib

from config import Settings
from errors import DeliveryFailed
from mail.templates import Letter

log = logging.getLogger(__name__)


class Mailer(Protocol):
    async def send(self, message: EmailMessage) -> None: ...


def compose(
    *, sender_name: str, sender: str, to: str, subject: str, text: str, html: str
) -> EmailMessage:
    """A message with plain-text and HTML parts, from the business by name."""
    message = EmailMessage()
    message["From"] = formataddr((sender_name, sender))
    message["To"] = to
    message["Subject"] = subject
    message["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or None)
    # Plain ASCII text stays as it is (not quoted-printable), so the link in an outbox .eml
    # can be read, and copied, straight from the file.
    readable = text.isascii() and all(len(line) < 990 for line in text.splitlines())
    message.set_content(text, cte="7bit" if readable else None)
    message.add_alternative(html, subtype="html")
    return message


def from_business(business: str, letter: Letter, *, sender: str, to: str) -> EmailMessage:
    """A letter sent in the name of a business (its name, the portal's address)."""
    return compose(
        sender_name=business,
        sender=sender,
        to=to,
        subject=letter.subject,
        text=letter.text,
        html=letter.html,
    )


class SmtpMailer:
    def __init__(self, settings: Settings) -> None:
        self._settings = settings

    async def send(self, message: EmailMessage) -> None:
        s = self._settings
        try:
            await aiosmtplib.send(
                message,
                hostname=s.SMTP_HOST,
                port=s.SMTP_PORT,
                username=s.SMTP_USERNAME,
                password=s.SMTP_PASSWORD,
                use_tls=s.SMTP_PORT == 465,
                start_tls=False if s.SMTP_PORT == 465 else s.SMTP_STARTTLS,
                timeout=s.SMTP_TIMEOUT_SECONDS,
                cert_bundle=str(s.SMTP_CA_FILE) if s.SMTP_CA_FILE else None,
            )
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as error:
            log.error("mail to %s failed: %s", message["To"], error)
            raise DeliveryFailed() from error
        log.info("mail sent to %s: %s", message["To"], message["Subject"])


_LINK = re.compile(r"https?://\S+")


class OutboxMailer:
    """The default with no SMTP server: each message becomes a file a developer can open."""

    def __init__(self, directory: Path) -> None:
        self._directory = directory

    async def send(self, message: EmailMessage) -> None:
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
        path = self._directory / f"{stamp}-{uuid.uuid4().hex[:8]}.eml"
        try:
            await asyncio.to_thread(self._write, path, bytes(message))
        except OSError as error:
            log.error("could not write %s: %s", path, error)
            raise DeliveryFailed() from error
        text = message.get_body(("plain",)).get_content()
        links = " ".join(_LINK.findall(text))
        log.info("mail to %s written to %s: %s %s", message["To"], path, message["Subject"], links)

    def _write(self, path: Path, data: bytes) -> None:
        self._directory.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(".part")
        partial.write_bytes(data)
        partial.rename(path)  # readers never see half a message


def create_mailer(settings: Settings) -> Mailer:
    if settings.SMTP_HOST:
        return SmtpMailer(settings)
    return OutboxMailer(settings.outbox_dir)
