"""A real SMTP server (aiosmtpd) on loopback that keeps what it receives."""

from __future__ import annotations

import asyncio
import email
import email.policy
import re
import socket
import ssl
import threading
import time
from email.message import EmailMessage

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


class _Authenticator:
    def __init__(self, user: str, password: str) -> None:
        self.login = (user.encode(), password.encode())

    def __call__(self, server, session, envelope, mechanism, auth_data) -> AuthResult:
        ok = (
            isinstance(auth_data, LoginPassword)
            and (auth_data.login, auth_data.password) == self.login
        )
        return AuthResult(success=ok)


class _Handler:
    def __init__(self, box: Mailbox) -> None:
        self.box = box

    async def handle_DATA(self, server, session, envelope) -> str:
        if self.box.refuse:
            return "554 Transaction failed (refused by the test)"
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with self.box.lock:
            self.box.messages.append(message)
        return "250 OK"


class Mailbox:
    """`tls` (an ssl.SSLContext) makes STARTTLS required; `login` (user, password) makes
    AUTH required, after STARTTLS."""

    def __init__(
        self, *, tls: ssl.SSLContext | None = None, login: tuple[str, str] | None = None
    ) -> None:
        self.messages: list[EmailMessage] = []
        self.lock = threading.Lock()
        self.refuse = False
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        options: dict = {}
        if tls is not None:
            options.update(tls_context=tls, require_starttls=True)
        if login is not None:
            options.update(authenticator=_Authenticator(*login), auth_required=True)
        self._controller = Controller(
            _Handler(self), hostname="127.0.0.1", port=self.port, **options
        )

    def start(self) -> None:
        self._controller.start()

    def stop(self) -> None:
        self._controller.stop()

    def clear(self) -> None:
        with self.lock:
            self.messages.clear()
        self.refuse = False

    def to(self, address: str) -> list[EmailMessage]:
        with self.lock:
            return [m for m in self.messages if address.lower() in str(m["To"]).lower()]

    async def wait_for(
        self, address: str, count: int = 1, patience: float = 5.0
    ) -> list[EmailMessage]:
        """Mail sent after the response (password resets) arrives a moment later. The server
        runs on the test's event loop, so waiting must yield to it."""
        deadline = time.monotonic() + patience
        while time.monotonic() < deadline:
            found = self.to(address)
            if len(found) >= count:
                return found
            await asyncio.sleep(0.02)
        raise AssertionError(f"expected {count} message(s) to {address}, got {self.to(address)}")


def text_of(message: EmailMessage) -> str:
    return message.get_body(("plain",)).get_content()


def html_of(message: EmailMessage) -> str:
    return message.get_body(("html",)).get_content()


def link_in(message: EmailMessage) -> str:
    match = re.search(r"https?://\S+", text_of(message))
    assert match, "no link in the message"
    return match.group(0)


def token_in(message: EmailMessage) -> str:
    match = re.search(r"[?&]token=([A-Za-z0-9_\-]+)", link_in(message))
    assert match, "no token in the link"
    return match.group(1)
