"""Stripe Connect, as the few calls this project makes: the only importer of `stripe`.

Businesses are paid directly: each has its own connected account (Express), and a card
payment is a PaymentIntent created *on* that account (the `Stripe-Account` header), with
the platform's fee as `application_fee_amount`. The SDK runs on its async HTTPX client, so
no call blocks the event loop; `STRIPE_API_BASE` points it somewhere else (the tests'
stand-in). What leaves this module is plain data, never a `stripe` object.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import stripe

from config import Settings

# Stripe's own default, written out: the webhook's signed timestamp may be 5 minutes old.
SIGNATURE_TOLERANCE_SECONDS = 300
# Idempotency keys make the SDK's retries safe.
NETWORK_RETRIES = 2


class InvalidSignature(Exception):
    """A webhook body whose `Stripe-Signature` is missing, wrong or too old."""


@dataclass(frozen=True)
class PaymentIntent:
    id: str
    status: str
    amount: int
    currency: str
    client_secret: str


def _payment_intent(found: Any) -> PaymentIntent:
    return PaymentIntent(
        id=found.id,
        status=found.status,
        amount=found.amount,
        currency=found.currency,
        client_secret=found.client_secret,
    )


class StripeApi:
    """The platform's Stripe account, from STRIPE_SECRET_KEY."""

    def __init__(self, secret_key: str, *, api_base: str | None, fee_bps: int) -> None:
        self._http = stripe.HTTPXClient()
        self._client = stripe.StripeClient(
            secret_key,
            base_addresses={"api": api_base.rstrip("/")} if api_base else None,
            http_client=self._http,
            max_network_retries=NETWORK_RETRIES,
        )
        # Test-mode keys see only test-mode objects and events, and live keys live ones.
        self.livemode = secret_key.startswith(("sk_live_", "rk_live_"))
        self.fee_bps = fee_bps

    def application_fee(self, amount: int) -> int:
        """The platform's cut of a payment, in basis points, rounded down to the cent."""
        return amount * self.fee_bps // 10_000

    async def create_express_account(self, business_id: str) -> str:
        """A connected account for a business; the key makes a repeated call return it."""
        account = await self._client.v1.accounts.create_async(
            {"type": "express", "metadata": {"business_id": business_id}},
            {"idempotency_key": f"connect-account-{business_id}"},
        )
        return account.id

    async def onboarding_link(self, account_id: str, *, refresh_url: str, return_url: str) -> str:
        """A fresh, single-use URL of Stripe's onboarding for the account."""
        link = await self._client.v1.account_links.create_async(
            {
                "account": account_id,
                "type": "account_onboarding",
                "refresh_url": refresh_url,
                "return_url": return_url,
            }
        )
        return link.url

    async def find_payment_intent(self, account_id: str, intent_id: str) -> PaymentIntent | None:
        try:
            found = await self._client.v1.payment_intents.retrieve_async(
                intent_id, options={"stripe_account": account_id}
            )
        except stripe.InvalidRequestError as error:
            if error.http_status == 404:
                return None
            raise
        return _payment_intent(found)

    async def create_payment_intent(
        self,
        account_id: str,
        *,
        amount: int,
        currency: str,
        metadata: dict[str, str],
        description: str,
        idempotency_key: str,
    ) -> PaymentIntent:
        """A direct charge on the connected account, of `amount` minor units."""
        params: dict[str, Any] = {
            "amount": amount,
            "currency": currency,
            "metadata": metadata,
            "description": description,
            "automatic_payment_methods": {"enabled": True},
        }
        fee = self.application_fee(amount)
        if fee > 0:
            params["application_fee_amount"] = fee
        created = await self._client.v1.payment_intents.create_async(
            params,  # type: ignore[arg-type]
            {"stripe_account": account_id, "idempotency_key": idempotency_key},
        )
        return _payment_intent(created)

    async def close(self) -> None:
        await self._http.close_async()


def create_stripe(settings: Settings) -> StripeApi | None:
    """None when STRIPE_SECRET_KEY is unset: online payment is then disabled."""
    if not settings.STRIPE_SECRET_KEY:
        return None
    return StripeApi(
        settings.STRIPE_SECRET_KEY,
        api_base=settings.STRIPE_API_BASE,
        fee_bps=settings.STRIPE_APPLICATION_FEE_BPS,
    )


def verify_event(payload: bytes, header: str | None, secret: str) -> dict[str, Any]:
    """The event in a webhook body, once its signature is checked with Stripe's own verifier
    (HMAC-SHA256 of `t.payload`, and `t` at most 5 minutes old)."""
    if not header:
        raise InvalidSignature("no Stripe-Signature header")
    try:
        stripe.WebhookSignature.verify_header(
            payload.decode("utf-8"), header, secret, tolerance=SIGNATURE_TOLERANCE_SECONDS
        )
        event = json.loads(payload)
    except (stripe.SignatureVerificationError, UnicodeDecodeError, ValueError) as error:
        raise InvalidSignature(str(error)) from None
    if not isinstance(event, dict):
        raise InvalidSignature("the body is not an event")
    return event
