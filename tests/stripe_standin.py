"""A small stand-in of Stripe's API on loopback, for the real `stripe` SDK (STRIPE_API_BASE).

It serves the calls payments/stripe_api.py makes — accounts create/retrieve, account links,
payment intents create/retrieve — with Stripe-shaped JSON, honours `Idempotency-Key` per
account as Stripe does, and records every request (path, form fields, headers such as
`Stripe-Account`). Tests change its objects (`enable_charges`, `succeed`, `refund`) and
post the matching webhook events, signed with Stripe's scheme (`signed`).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import itertools
import json
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route


@dataclass
class Recorded:
    method: str
    path: str
    params: dict[str, Any]
    headers: dict[str, str]


def _nested(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    """Stripe's form encoding (`metadata[invoice_id]=…`) back into dicts."""
    result: dict[str, Any] = {}
    for key, value in pairs:
        parts = key.replace("]", "").split("[")
        target = result
        for part in parts[:-1]:
            target = target.setdefault(part, {})
        target[parts[-1]] = value
    return result


def _missing(kind: str, key: str) -> JSONResponse:
    return JSONResponse(
        {
            "error": {
                "type": "invalid_request_error",
                "code": "resource_missing",
                "message": f"No such {kind}: '{key}'",
            }
        },
        status_code=404,
    )


class StripeStandin:
    def __init__(self, port: int) -> None:
        self.url = f"http://127.0.0.1:{port}"
        self.requests: list[Recorded] = []
        self.accounts: dict[str, dict[str, Any]] = {}
        self.intents: dict[str, dict[str, Any]] = {}
        self._idempotent: dict[tuple[str | None, str], dict[str, Any]] = {}
        self._ids = itertools.count(1)
        app = Starlette(
            routes=[
                Route("/v1/accounts", self._create_account, methods=["POST"]),
                Route("/v1/accounts/{id}", self._retrieve_account, methods=["GET"]),
                Route("/v1/account_links", self._create_account_link, methods=["POST"]),
                Route("/v1/payment_intents", self._create_intent, methods=["POST"]),
                Route("/v1/payment_intents/{id}", self._retrieve_intent, methods=["GET"]),
            ]
        )
        config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
        self._server = uvicorn.Server(config)
        self._task: asyncio.Task | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._server.serve())
        while not self._server.started:
            if self._task.done():
                self._task.result()
            await asyncio.sleep(0.01)

    async def stop(self) -> None:
        self._server.should_exit = True
        if self._task:
            await self._task

    def reset(self) -> None:
        """Forget everything (between tests, as the database is emptied)."""
        self.requests.clear()
        self.accounts.clear()
        self.intents.clear()
        self._idempotent.clear()

    def calls(self, method: str, path: str) -> list[Recorded]:
        return [r for r in self.requests if r.method == method and r.path == path]

    def _id(self, prefix: str) -> str:
        return f"{prefix}_standin{next(self._ids):06d}"

    async def _record(self, request: Request) -> Recorded:
        body = (await request.body()).decode()
        pairs = parse_qsl(body or request.url.query, keep_blank_values=True)
        recorded = Recorded(
            request.method,
            request.url.path,
            _nested(pairs),
            {k.lower(): v for k, v in request.headers.items()},
        )
        self.requests.append(recorded)
        return recorded

    def _replayed(self, recorded: Recorded) -> dict[str, Any] | None:
        key = recorded.headers.get("idempotency-key")
        if key is None:
            return None
        return self._idempotent.get((recorded.headers.get("stripe-account"), key))

    def _remember(self, recorded: Recorded, body: dict[str, Any]) -> None:
        key = recorded.headers.get("idempotency-key")
        if key is not None:
            self._idempotent[(recorded.headers.get("stripe-account"), key)] = body

    # -- the API ------------------------------------------------------------------------

    async def _create_account(self, request: Request) -> JSONResponse:
        recorded = await self._record(request)
        replayed = self._replayed(recorded)
        if replayed is not None:
            return JSONResponse(replayed)
        account = {
            "id": self._id("acct"),
            "object": "account",
            "type": recorded.params.get("type", "standard"),
            "charges_enabled": False,
            "payouts_enabled": False,
            "details_submitted": False,
            "metadata": recorded.params.get("metadata", {}),
            "created": int(time.time()),
            "livemode": False,
        }
        self.accounts[account["id"]] = account
        self._remember(recorded, account)
        return JSONResponse(account)

    async def _retrieve_account(self, request: Request) -> JSONResponse:
        await self._record(request)
        account = self.accounts.get(request.path_params["id"])
        return JSONResponse(account) if account else _missing("account", request.path_params["id"])

    async def _create_account_link(self, request: Request) -> JSONResponse:
        recorded = await self._record(request)
        account = recorded.params.get("account", "")
        if account not in self.accounts:
            return _missing("account", account)
        now = int(time.time())
        return JSONResponse(
            {
                "object": "account_link",
                "created": now,
                "expires_at": now + 300,
                "url": f"https://connect.stripe.test/setup/e/{account}/{next(self._ids)}",
            }
        )

    async def _create_intent(self, request: Request) -> JSONResponse:
        recorded = await self._record(request)
        replayed = self._replayed(recorded)
        if replayed is not None:
            return JSONResponse(replayed)
        account = recorded.headers.get("stripe-account")
        if account not in self.accounts:
            return _missing("account", str(account))
        params = recorded.params
        intent_id = self._id("pi")
        intent = {
            "id": intent_id,
            "object": "payment_intent",
            "amount": int(params["amount"]),
            "amount_received": 0,
            "currency": params["currency"],
            "status": "requires_payment_method",
            "client_secret": f"{intent_id}_secret_{next(self._ids)}",
            "application_fee_amount": (
                int(params["application_fee_amount"])
                if "application_fee_amount" in params
                else None
            ),
            "metadata": params.get("metadata", {}),
            "description": params.get("description"),
            "created": int(time.time()),
            "livemode": False,
        }
        self.intents[intent_id] = {**intent, "_account": account}
        self._remember(recorded, intent)
        return JSONResponse(intent)

    async def _retrieve_intent(self, request: Request) -> JSONResponse:
        await self._record(request)
        intent = self.intents.get(request.path_params["id"])
        if intent is None or intent["_account"] != request.headers.get("stripe-account"):
            return _missing("payment_intent", request.path_params["id"])
        return JSONResponse(self.public(intent))

    # -- what tests do to Stripe's objects ----------------------------------------------

    @staticmethod
    def public(obj: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in obj.items() if not k.startswith("_")}

    def enable_charges(self, account_id: str, enabled: bool = True) -> dict[str, Any]:
        account = self.accounts[account_id]
        account.update(charges_enabled=enabled, details_submitted=True, payouts_enabled=enabled)
        return dict(account)

    def succeed(self, intent_id: str) -> dict[str, Any]:
        intent = self.intents[intent_id]
        intent.update(status="succeeded", amount_received=intent["amount"])
        intent["latest_charge"] = intent.get("latest_charge") or self._id("ch")
        return self.public(intent)

    def fail(self, intent_id: str) -> dict[str, Any]:
        intent = self.intents[intent_id]
        intent.update(status="requires_payment_method")
        return {
            **self.public(intent),
            "last_payment_error": {"code": "card_declined", "message": "Your card was declined."},
        }

    def cancel(self, intent_id: str) -> None:
        self.intents[intent_id]["status"] = "canceled"

    def refund(self, intent_id: str, amount: int) -> dict[str, Any]:
        """The charge after a refund of `amount` more (Stripe's running total)."""
        intent = self.intents[intent_id]
        intent["_refunded"] = intent.get("_refunded", 0) + amount
        return {
            "id": intent.get("latest_charge") or self._id("ch"),
            "object": "charge",
            "amount": intent["amount"],
            "amount_captured": intent["amount"],
            "amount_refunded": intent["_refunded"],
            "refunded": intent["_refunded"] >= intent["amount"],
            "payment_intent": intent_id,
            "metadata": intent["metadata"],
            "created": intent["created"],
            "livemode": False,
        }

    def account_of(self, intent_id: str) -> str:
        return self.intents[intent_id]["_account"]


_events = itertools.count(1)


def event(
    kind: str,
    obj: dict[str, Any],
    *,
    account: str | None,
    livemode: bool = False,
    created: int | None = None,
    event_id: str | None = None,
) -> dict[str, Any]:
    """A Connect event as Stripe sends it to a platform's endpoint."""
    body: dict[str, Any] = {
        "id": event_id or f"evt_standin{next(_events):06d}",
        "object": "event",
        "api_version": "2025-01-27.acacia",
        "created": created if created is not None else int(time.time()),
        "type": kind,
        "livemode": livemode,
        "pending_webhooks": 1,
        "data": {"object": obj},
    }
    if account is not None:
        body["account"] = account
    return body


def signature(payload: str, secret: str, timestamp: int | None = None) -> str:
    """Stripe's `Stripe-Signature`: t=<unix time>,v1=HMAC-SHA256(secret, "<t>.<payload>")."""
    t = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(secret.encode(), f"{t}.{payload}".encode(), hashlib.sha256).hexdigest()
    return f"t={t},v1={digest}"


def signed(body: dict[str, Any], secret: str, timestamp: int | None = None) -> tuple[str, dict]:
    """(payload, headers) of a webhook delivery."""
    payload = json.dumps(body)
    return payload, {
        "Content-Type": "application/json",
        "Stripe-Signature": signature(payload, secret, timestamp),
    }
