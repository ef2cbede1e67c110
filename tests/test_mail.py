"""Mail to a real SMTP server that demands STARTTLS and a login, as production relays do."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Iterator

import asyncpg
import httpx
import pytest
import trustme

from tests import factories
from tests.client import Api
from tests.conftest import free_port
from tests.mailbox import Mailbox, token_in


@pytest.fixture(scope="module")
def certificate_authority() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="module")
def secure_mailbox(certificate_authority: trustme.CA) -> Iterator[Mailbox]:
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    certificate_authority.issue_cert("127.0.0.1").configure_cert(tls)
    box = Mailbox(tls=tls, login=("portal", "smtp secret"))
    box.start()
    yield box
    box.stop()


@pytest.fixture
def invite_through(server_settings, start_server, secure_mailbox, certificate_authority, tmp_path):
    """Invite a customer from a server whose mail goes to the secure relay, logging in
    with `password`; returns the response body and the customer's email."""

    async def invite(password: str) -> dict:
        bundle = tmp_path / "ca.pem"
        certificate_authority.cert_pem.write_to_path(str(bundle))
        settings = server_settings.model_copy(
            update={
                "PORT": free_port(),
                "SMTP_PORT": secure_mailbox.port,
                "SMTP_STARTTLS": True,
                "SMTP_USERNAME": "portal",
                "SMTP_PASSWORD": password,
                "SMTP_CA_FILE": bundle,
                # aiosmtpd leaves a refused login hanging until the client gives up
                "SMTP_TIMEOUT_SECONDS": 2,
            }
        )
        running = await start_server(settings)
        async with httpx.AsyncClient(base_url=running.url, timeout=60) as http:
            api = Api(http)
            staff = await factories.register(api)
            made = await factories.customer(api, staff)
            body = await api.post(factories.INVITE_CUSTOMER, {"id": made["id"]}, token=staff.token)
        return body | {"email": made["email"]}

    return invite


async def test_starttls_and_login(invite_through, secure_mailbox: Mailbox, clean: None) -> None:
    body = await invite_through("smtp secret")
    assert not body.get("errors"), body
    [message] = await secure_mailbox.wait_for(body["email"])
    assert token_in(message)


async def test_a_refused_login_is_a_delivery_failure_and_changes_nothing(
    invite_through,
    secure_mailbox: Mailbox,
    clean: None,
    superuser: asyncpg.Connection,
) -> None:
    body = await invite_through("wrong")
    assert body["errors"][0]["extensions"]["reason"] == "MAIL_DELIVERY_FAILED"
    await asyncio.sleep(0)
    assert secure_mailbox.to(body["email"]) == []
    assert await superuser.fetchval("SELECT portal_status FROM customers") == "NOT_INVITED"
