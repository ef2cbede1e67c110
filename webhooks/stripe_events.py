"""One handler per Stripe event type we act on, keyed by the type. Each runs for the
business whose connected account the event names (`ctx` acts for it), inside the
transaction that records the event as handled. Any other type is acknowledged unread."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from resolvers import payments
from resolvers.context import RequestContext

Handler = Callable[[RequestContext, dict[str, Any]], Awaitable[None]]


def _object(event: dict[str, Any]) -> dict[str, Any]:
    return event["data"]["object"]


async def payment_intent_succeeded(ctx: RequestContext, event: dict[str, Any]) -> None:
    await payments.intent_succeeded(ctx, _object(event))


async def payment_intent_payment_failed(ctx: RequestContext, event: dict[str, Any]) -> None:
    await payments.intent_failed(ctx, _object(event))


async def charge_refunded(ctx: RequestContext, event: dict[str, Any]) -> None:
    await payments.charge_refunded(ctx, _object(event))


async def account_updated(ctx: RequestContext, event: dict[str, Any]) -> None:
    await payments.account_updated(ctx, _object(event), event.get("created"))


HANDLERS: dict[str, Handler] = {
    "payment_intent.succeeded": payment_intent_succeeded,
    "payment_intent.payment_failed": payment_intent_payment_failed,
    "charge.refunded": charge_refunded,
    "account.updated": account_updated,
}
