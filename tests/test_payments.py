"""Stripe Connect end to end: the real `stripe` SDK against a stand-in of Stripe's API on
loopback (tests/stripe_standin.py), and webhook events signed with Stripe's scheme.

Onboarding → enabled by `account.updated`; payInvoice → PaymentIntent on the connected
account → `payment_intent.succeeded` → PAID; refunds reopen; replays, any order, bad and
stale signatures, unknown accounts, types and modes; who may pay what."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest_asyncio

from config import Settings
from tests import factories
from tests.client import Api, code
from tests.conftest import free_port
from tests.mailbox import Mailbox
from tests.stripe_standin import StripeStandin, event, signature, signed
from tests.test_invoices import INVOICE, record, sent_invoice

SECRET_KEY = "sk_test_standin"
WEBHOOK_SECRET = "whsec_standin_secret"
FEE_BPS = 250  # 2.5 %

ONBOARD = "mutation { startStripeOnboarding { url } }"
PAY = """mutation($id: ID!) {
  payInvoice(invoiceId: $id) { clientSecret stripeAccountId amountCents currency }
}"""
ENABLED = "{ business { paymentsEnabled } }"


@pytest_asyncio.fixture(scope="session")
async def standin() -> AsyncIterator[StripeStandin]:
    running = StripeStandin(free_port())
    await running.start()
    yield running
    await running.stop()


@pytest_asyncio.fixture(scope="session")
async def stripe_servers(server_settings: Settings, start_server, standin: StripeStandin):
    settings = server_settings.model_copy(
        update={
            "PORT": free_port(),
            "STRIPE_SECRET_KEY": SECRET_KEY,
            "STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET,
            "STRIPE_API_BASE": standin.url,
            "STRIPE_APPLICATION_FEE_BPS": FEE_BPS,
        }
    )
    compiled = await start_server(settings)
    executed = await start_server(
        settings.model_copy(update={"PORT": free_port(), "COMPILED_READS": False})
    )
    return compiled, executed


@pytest_asyncio.fixture
async def stripe_api(stripe_servers, clean: None, standin: StripeStandin) -> AsyncIterator[Api]:
    compiled, executed = stripe_servers
    standin.reset()
    async with (
        httpx.AsyncClient(base_url=compiled.url, timeout=30) as http,
        httpx.AsyncClient(base_url=executed.url, timeout=30) as other,
    ):
        yield Api(http, executed=other)


async def deliver(api: Api, body: dict[str, Any], *, timestamp: int | None = None) -> int:
    payload, headers = signed(body, WEBHOOK_SECRET, timestamp)
    response = await api.http.post("/webhooks/stripe", content=payload, headers=headers)
    return response.status_code


async def connect(api: Api, standin: StripeStandin, staff: factories.Staff) -> str:
    """Onboard the business and let Stripe say its account can take charges."""
    before = set(standin.accounts)
    await api.gql(ONBOARD, token=staff.token)
    (account,) = set(standin.accounts) - before
    updated = standin.enable_charges(account)
    assert await deliver(api, event("account.updated", updated, account=account)) == 200
    return account


async def invoice_to_pay(
    api: Api, standin: StripeStandin, mailbox: Mailbox
) -> tuple[factories.Staff, factories.PortalCustomer, dict, str]:
    staff = await factories.register(api, "Acme Roofing")
    account = await connect(api, standin, staff)
    me = await factories.portal_customer(api, mailbox, staff)
    invoice = await sent_invoice(api, staff, me.id)  # 9000 cents
    return staff, me, invoice, account


async def read(api: Api, invoice_id: str, token: str) -> dict:
    return (await api.gql(INVOICE, {"id": invoice_id}, token=token))["node"]


async def test_onboarding_creates_one_express_account_and_webhooks_enable_payments(
    stripe_api: Api, standin: StripeStandin
) -> None:
    api = stripe_api
    staff = await factories.register(api)

    first = (await api.gql(ONBOARD, token=staff.token))["startStripeOnboarding"]
    second = (await api.gql(ONBOARD, token=staff.token))["startStripeOnboarding"]

    created = standin.calls("POST", "/v1/accounts")
    assert len(created) == 1
    assert created[0].params["type"] == "express"
    assert created[0].headers["idempotency-key"]
    assert created[0].headers["authorization"] == f"Bearer {SECRET_KEY}"
    account = next(iter(standin.accounts))
    links = standin.calls("POST", "/v1/account_links")
    assert [link.params["account"] for link in links] == [account, account]
    assert links[0].params["type"] == "account_onboarding"
    assert links[0].params["return_url"].startswith("https://portal.example.com/")
    assert first["url"] != second["url"]  # a fresh link each time
    assert first["url"].startswith("https://connect.stripe.test/")
    # A staff console names its own page for Stripe to send the staff member back to.
    console = "https://team.example.com/payments?tab=stripe"
    back = "mutation($to: String) { startStripeOnboarding(returnUrl: $to) { url } }"
    await api.gql(back, {"to": console}, token=staff.token)
    link = standin.calls("POST", "/v1/account_links")[-1]
    assert link.params["return_url"] == console
    assert link.params["refresh_url"] == console + "&stripe=refresh"
    error = await api.error(back, {"to": "javascript:alert(1)"}, token=staff.token)
    assert error["extensions"] == {"code": "BAD_USER_INPUT", "field": "returnUrl"}
    assert (await api.gql(ENABLED, token=staff.token))["business"]["paymentsEnabled"] is False

    enabled = standin.enable_charges(account)
    now = int(time.time())
    assert (
        await deliver(api, event("account.updated", enabled, account=account, created=now)) == 200
    )
    assert (await api.gql(ENABLED, token=staff.token))["business"]["paymentsEnabled"] is True

    # an older event delivered late changes nothing
    stale = {**enabled, "charges_enabled": False}
    late = event("account.updated", stale, account=account, created=now - 60)
    assert await deliver(api, late) == 200
    assert (await api.gql(ENABLED, token=staff.token))["business"]["paymentsEnabled"] is True
    # a newer one does
    newer = event("account.updated", stale, account=account, created=now + 1)
    assert await deliver(api, newer) == 200
    assert (await api.gql(ENABLED, token=staff.token))["business"]["paymentsEnabled"] is False


async def test_pay_then_webhook_marks_it_paid(
    stripe_api: Api, standin: StripeStandin, mailbox: Mailbox
) -> None:
    api = stripe_api
    staff, me, invoice, account = await invoice_to_pay(api, standin, mailbox)
    assert (await read(api, invoice["id"], me.token))["canPayOnline"] is True

    intent = (await api.gql(PAY, {"id": invoice["id"]}, token=me.token))["payInvoice"]

    assert intent["stripeAccountId"] == account
    assert (intent["amountCents"], intent["currency"]) == (9000, "usd")
    (created,) = standin.calls("POST", "/v1/payment_intents")
    assert created.headers["stripe-account"] == account
    assert created.headers["idempotency-key"]
    assert created.params["amount"] == "9000"
    assert created.params["application_fee_amount"] == str(9000 * FEE_BPS // 10_000)
    assert created.params["metadata"]["invoice_id"]
    assert created.params["metadata"]["business_id"]
    (intent_id,) = standin.intents
    assert intent["clientSecret"] == standin.intents[intent_id]["client_secret"]
    # nothing is paid until Stripe says so
    assert (await read(api, invoice["id"], me.token))["status"] == "OPEN"
    # asked again, the same open intent comes back
    again = (await api.gql(PAY, {"id": invoice["id"]}, token=me.token))["payInvoice"]
    assert again == intent
    assert len(standin.calls("POST", "/v1/payment_intents")) == 1

    succeeded = standin.succeed(intent_id)
    # paid at Stripe, its word not here yet: no second intent that could pay twice
    assert code(await api.error(PAY, {"id": invoice["id"]}, token=me.token)) == "CONFLICT"
    assert await deliver(api, event("payment_intent.succeeded", succeeded, account=account)) == 200

    paid = await read(api, invoice["id"], me.token)
    assert paid["status"] == "PAID"
    assert (paid["amountPaidCents"], paid["amountDueCents"]) == (9000, 0)
    assert paid["paidAt"] is not None and paid["canPayOnline"] is False
    assert [(p["amountCents"], p["method"], p["status"]) for p in paid["payments"]] == [
        (9000, "CARD", "SUCCEEDED")
    ]
    conflict = await api.error(PAY, {"id": invoice["id"]}, token=me.token)
    assert code(conflict) == "CONFLICT"


async def test_a_new_intent_when_the_amount_due_changed_or_the_old_one_ended(
    stripe_api: Api, standin: StripeStandin, mailbox: Mailbox
) -> None:
    api = stripe_api
    staff, me, invoice, account = await invoice_to_pay(api, standin, mailbox)
    first = (await api.gql(PAY, {"id": invoice["id"]}, token=me.token))["payInvoice"]
    await record(api, staff, invoice["id"], 2500)

    second = (await api.gql(PAY, {"id": invoice["id"]}, token=me.token))["payInvoice"]

    assert second["amountCents"] == 6500
    assert second["clientSecret"] != first["clientSecret"]
    intents = list(standin.intents)
    standin.cancel(intents[-1])
    third = (await api.gql(PAY, {"id": invoice["id"]}, token=me.token))["payInvoice"]
    assert third["clientSecret"] not in (first["clientSecret"], second["clientSecret"])
    assert len(standin.calls("POST", "/v1/payment_intents")) == 3
    keys = {c.headers["idempotency-key"] for c in standin.calls("POST", "/v1/payment_intents")}
    assert len(keys) == 3


async def test_partial_and_full_refunds_reopen_the_invoice_in_any_order(
    stripe_api: Api, standin: StripeStandin, mailbox: Mailbox
) -> None:
    api = stripe_api
    staff, me, invoice, account = await invoice_to_pay(api, standin, mailbox)
    await api.gql(PAY, {"id": invoice["id"]}, token=me.token)
    (intent_id,) = standin.intents
    succeeded = event("payment_intent.succeeded", standin.succeed(intent_id), account=account)
    partial = event("charge.refunded", standin.refund(intent_id, 3000), account=account)
    full = event("charge.refunded", standin.refund(intent_id, 6000), account=account)

    # the refunds arrive first, the larger before the smaller, then the payment
    assert await deliver(api, full) == 200
    after_full = await read(api, invoice["id"], staff.token)
    assert (after_full["status"], after_full["amountPaidCents"]) == ("OPEN", 0)
    assert [p["status"] for p in after_full["payments"]] == ["REFUNDED"]
    assert await deliver(api, partial) == 200
    assert await deliver(api, succeeded) == 200

    final = await read(api, invoice["id"], staff.token)
    assert (final["status"], final["amountPaidCents"], final["amountDueCents"]) == ("OPEN", 0, 9000)
    assert [(p["amountCents"], p["status"]) for p in final["payments"]] == [(9000, "REFUNDED")]


async def test_a_refund_reopens_a_paid_invoice(
    stripe_api: Api, standin: StripeStandin, mailbox: Mailbox
) -> None:
    api = stripe_api
    staff, me, invoice, account = await invoice_to_pay(api, standin, mailbox)
    await api.gql(PAY, {"id": invoice["id"]}, token=me.token)
    (intent_id,) = standin.intents
    await deliver(
        api, event("payment_intent.succeeded", standin.succeed(intent_id), account=account)
    )
    assert (await read(api, invoice["id"], me.token))["status"] == "PAID"

    await deliver(api, event("charge.refunded", standin.refund(intent_id, 1500), account=account))

    reopened = await read(api, invoice["id"], me.token)
    assert reopened["status"] == "OPEN" and reopened["paidAt"] is None
    assert (reopened["amountPaidCents"], reopened["amountDueCents"]) == (7500, 1500)
    assert [p["status"] for p in reopened["payments"]] == ["PARTIALLY_REFUNDED"]
    assert reopened["canPayOnline"] is True
    # and the rest can be paid online again
    rest = (await api.gql(PAY, {"id": invoice["id"]}, token=me.token))["payInvoice"]
    assert rest["amountCents"] == 1500


async def test_replayed_and_concurrent_duplicate_events_count_once(
    stripe_api: Api, standin: StripeStandin, mailbox: Mailbox
) -> None:
    api = stripe_api
    staff, me, invoice, account = await invoice_to_pay(api, standin, mailbox)
    await record(api, staff, invoice["id"], 1000)
    await api.gql(PAY, {"id": invoice["id"]}, token=me.token)
    (intent_id,) = standin.intents
    once = event("payment_intent.succeeded", standin.succeed(intent_id), account=account)

    statuses = await asyncio.gather(*(deliver(api, once) for _ in range(5)))
    assert statuses == [200] * 5
    assert await deliver(api, once) == 200

    paid = await read(api, invoice["id"], staff.token)
    assert (paid["status"], paid["amountPaidCents"]) == ("PAID", 9000)
    assert sorted(p["amountCents"] for p in paid["payments"]) == [1000, 8000]
    # the same payment under another event id is still one payment
    assert await deliver(api, {**once, "id": "evt_another_delivery"}) == 200
    assert len((await read(api, invoice["id"], staff.token))["payments"]) == 2


async def test_a_failed_attempt_shows_and_a_later_success_replaces_it(
    stripe_api: Api, standin: StripeStandin, mailbox: Mailbox
) -> None:
    api = stripe_api
    staff, me, invoice, account = await invoice_to_pay(api, standin, mailbox)
    await api.gql(PAY, {"id": invoice["id"]}, token=me.token)
    (intent_id,) = standin.intents
    failed = event("payment_intent.payment_failed", standin.fail(intent_id), account=account)
    succeeded = event("payment_intent.succeeded", standin.succeed(intent_id), account=account)

    assert await deliver(api, failed) == 200
    after_failure = await read(api, invoice["id"], me.token)
    assert after_failure["status"] == "OPEN" and after_failure["amountPaidCents"] == 0
    assert [p["status"] for p in after_failure["payments"]] == ["FAILED"]

    assert await deliver(api, succeeded) == 200
    # a failure delivered after the success changes nothing
    late = {**failed, "id": "evt_late_failure"}
    assert await deliver(api, late) == 200
    paid = await read(api, invoice["id"], me.token)
    assert paid["status"] == "PAID"
    assert [p["status"] for p in paid["payments"]] == ["SUCCEEDED"]


async def test_signatures_are_checked_and_strangers_are_acknowledged_and_ignored(
    stripe_api: Api, standin: StripeStandin, mailbox: Mailbox
) -> None:
    api = stripe_api
    staff, me, invoice, account = await invoice_to_pay(api, standin, mailbox)
    await api.gql(PAY, {"id": invoice["id"]}, token=me.token)
    (intent_id,) = standin.intents
    body = event("payment_intent.succeeded", standin.succeed(intent_id), account=account)
    payload, headers = signed(body, WEBHOOK_SECRET)

    async def post(content: str, **extra: str) -> int:
        response = await api.http.post("/webhooks/stripe", content=content, headers=extra)
        return response.status_code

    assert await post(payload) == 400  # no signature
    assert await post(payload, **{"Stripe-Signature": signature(payload, "whsec_wrong")}) == 400
    assert await post(payload + " ", **headers) == 400  # a changed body
    assert await post(payload, **{"Stripe-Signature": "garbage"}) == 400
    assert await deliver(api, body, timestamp=int(time.time()) - 301) == 400  # stale
    assert (await read(api, invoice["id"], staff.token))["status"] == "OPEN"

    # unknown type, unknown account, another mode, unknown invoice: 200, and nothing changes
    assert await deliver(api, event("customer.created", {"id": "cus_1"}, account=account)) == 200
    assert await deliver(api, {**body, "id": "evt_stranger", "account": "acct_unknown"}) == 200
    assert await deliver(api, {**body, "id": "evt_live", "livemode": True}) == 200
    assert await deliver(api, {**body, "id": "evt_platform", "account": None}) == 200
    unknown = {**body["data"]["object"], "id": "pi_unknown", "metadata": {"invoice_id": "x"}}
    assert await deliver(api, event("payment_intent.succeeded", unknown, account=account)) == 200
    assert (await read(api, invoice["id"], staff.token))["status"] == "OPEN"
    # signed within the 5 minutes, the real one counts
    assert await deliver(api, body, timestamp=int(time.time()) - 240) == 200
    assert (await read(api, invoice["id"], staff.token))["status"] == "PAID"


async def test_another_business_account_cannot_pay_this_business_invoice(
    stripe_api: Api, standin: StripeStandin, mailbox: Mailbox
) -> None:
    api = stripe_api
    staff, me, invoice, account = await invoice_to_pay(api, standin, mailbox)
    other = await factories.register(api)
    other_account = await connect(api, standin, other)
    await api.gql(PAY, {"id": invoice["id"]}, token=me.token)
    (intent_id,) = [i for i in standin.intents if standin.account_of(i) == account]
    forged = event("payment_intent.succeeded", standin.succeed(intent_id), account=other_account)

    assert await deliver(api, forged) == 200

    assert (await read(api, invoice["id"], staff.token))["status"] == "OPEN"


async def test_who_may_pay_and_when(
    stripe_api: Api, standin: StripeStandin, mailbox: Mailbox
) -> None:
    api = stripe_api
    staff, me, invoice, account = await invoice_to_pay(api, standin, mailbox)
    neighbour = await factories.portal_customer(api, mailbox, staff)

    assert code(await api.error(PAY, {"id": invoice["id"]}, token=staff.token)) == "FORBIDDEN"
    assert code(await api.error(PAY, {"id": invoice["id"]}, token=neighbour.token)) == "NOT_FOUND"
    assert code(await api.error(PAY, {"id": invoice["id"]})) == "UNAUTHENTICATED"
    assert code(await api.error(ONBOARD, token=me.token)) == "FORBIDDEN"

    paid = await sent_invoice(api, staff, me.id)
    await record(api, staff, paid["id"], paid["totalCents"])
    assert code(await api.error(PAY, {"id": paid["id"]}, token=me.token)) == "CONFLICT"
    voided = await sent_invoice(api, staff, me.id)
    await api.gql(
        "mutation($id: ID!) { voidInvoice(id: $id) { id } }",
        {"id": voided["id"]},
        token=staff.token,
    )
    assert code(await api.error(PAY, {"id": voided["id"]}, token=me.token)) == "CONFLICT"
    assert (await read(api, voided["id"], me.token))["canPayOnline"] is False

    # Stripe turns charges off: payments are disabled, and said so in advance
    off = {**standin.enable_charges(account, enabled=False)}
    await deliver(api, event("account.updated", off, account=account, created=int(time.time()) + 5))
    assert (await read(api, invoice["id"], me.token))["canPayOnline"] is False
    disabled = await api.error(PAY, {"id": invoice["id"]}, token=me.token)
    assert code(disabled) == "PAYMENTS_DISABLED"
    assert standin.calls("POST", "/v1/payment_intents") == []


async def test_payments_are_disabled_without_stripe_or_before_onboarding(
    api: Api, stripe_api: Api, standin: StripeStandin, mailbox: Mailbox
) -> None:
    # a server without STRIPE_SECRET_KEY (the `api` fixture's)
    staff = await factories.register(api)
    me = await factories.portal_customer(api, mailbox, staff)
    invoice = await sent_invoice(api, staff, me.id)
    assert (await read(api, invoice["id"], me.token))["canPayOnline"] is False
    assert code(await api.error(PAY, {"id": invoice["id"]}, token=me.token)) == "PAYMENTS_DISABLED"
    assert code(await api.error(ONBOARD, token=staff.token)) == "PAYMENTS_DISABLED"
    assert (await api.gql(ENABLED, token=staff.token))["business"]["paymentsEnabled"] is False
    # with Stripe, before the business has connected it
    disabled = await stripe_api.error(PAY, {"id": invoice["id"]}, token=me.token)
    assert code(disabled) == "PAYMENTS_DISABLED"
