"""POST /webhooks/stripe: Stripe's events about the businesses' connected accounts.

In order: the body's signature (STRIPE_WEBHOOK_SECRET, 5 minutes' tolerance; 400 when it
fails), the mode (an event whose `livemode` differs from the secret key's is ignored), then
one transaction that records the event id (a replay finds it and does nothing), maps the
event's `account` to its business (unknown accounts are ignored) and runs the event type's
handler for that business. The work and the record commit together: a crash between them
cannot count a payment twice or lose it, and a handler that fails rolls both back and
answers 500, so Stripe delivers the event again.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy.dialects.postgresql import insert
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from auth import lookups
from db import RequestTransaction
from models import StripeEvent
from payments import InvalidSignature, verify_event
from resolvers.context import RequestContext
from webhooks.stripe_events import HANDLERS

log = logging.getLogger(__name__)
events = StripeEvent.__table__
# Stripe's events are a few kilobytes; anything far larger is not one.
MAX_BODY_BYTES = 1_000_000


async def _body(request: Request) -> bytes | None:
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def _answer(status: int, message: str) -> JSONResponse:
    return JSONResponse({"message": message}, status_code=status)


async def stripe_webhook(request: Request) -> JSONResponse:
    services = request.app.state.services
    settings = services.settings
    body = await _body(request)
    if body is None:
        return _answer(413, "too large")
    if not settings.STRIPE_WEBHOOK_SECRET:
        log.warning("a Stripe webhook arrived, but STRIPE_WEBHOOK_SECRET is not set")
        return _answer(400, "webhooks are not configured")
    try:
        event = verify_event(
            body, request.headers.get("stripe-signature"), settings.STRIPE_WEBHOOK_SECRET
        )
    except InvalidSignature as error:
        log.warning("Stripe webhook refused: %s", error)
        return _answer(400, "invalid signature")
    if not isinstance(event.get("id"), str) or not isinstance(event.get("type"), str):
        return _answer(400, "not an event")
    stripe = services.stripe
    live = stripe.livemode if stripe is not None else False
    if bool(event.get("livemode")) != live:
        log.info("Stripe event %s ignored: not in this server's mode", event["id"])
        return _answer(200, "ignored")
    client = request.client.host if request.client else "-"
    return await handle(services, event, client)


async def handle(services: Any, event: dict[str, Any], client_ip: str) -> JSONResponse:
    tx = RequestTransaction(services.engine)
    ctx = RequestContext(services=services, tx=tx, client_ip=client_ip)
    committed = False
    try:
        answer = await _handle(ctx, event)
        committed = True
        return answer
    except Exception:
        log.exception("Stripe event %s (%s) failed; Stripe will retry", event["id"], event["type"])
        return _answer(500, "failed")
    finally:
        await tx.close(commit=committed)


async def _handle(ctx: RequestContext, event: dict[str, Any]) -> JSONResponse:
    event_id, kind, account = event["id"], event["type"], event.get("account")
    first_time = await ctx.tx.scalar(
        insert(events)
        .values(id=event_id, type=kind, account=account if isinstance(account, str) else None)
        .on_conflict_do_nothing(index_elements=[events.c.id])
        .returning(events.c.id)
    )
    if first_time is None:
        return _answer(200, "already handled")
    handler = HANDLERS.get(kind)
    if handler is None:
        log.info("Stripe event %s of type %s: nothing to do", event_id, kind)
        return _answer(200, "ignored")
    business_id = (
        await lookups.business_for_stripe_account(ctx.tx, account)
        if isinstance(account, str)
        else None
    )
    if business_id is None:
        log.warning("Stripe event %s for an account we do not know (%s)", event_id, account)
        return _answer(200, "ignored")
    with ctx.acting_for(business_id, f"Stripe event {kind}"):
        await handler(ctx, event)
    return _answer(200, "handled")


routes = [Route("/webhooks/stripe", stripe_webhook, methods=["POST"])]
