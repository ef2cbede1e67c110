"""Payments against invoices: recorded by staff (cash, check…), paid online through Stripe
Connect by the invoice's customer, and confirmed, failed or refunded by Stripe's webhooks.

The client never confirms a payment: `pay` only prepares a PaymentIntent on the business's
connected account, and the payment exists once `payment_intent.succeeded` arrives
(webhooks/). Each webhook's work runs in the transaction that records the event as handled.
Every change of an invoice's payments ends in `invoices.settle`, under the invoice's lock.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from sqlalchemy import Row, insert, update

from auth import scopes
from errors import BadInput, Conflict, NotFound, PaymentsDisabled
from models import InvoiceStatus, PaymentMethod, PaymentStatus
from resolvers import inputs, invoices

if TYPE_CHECKING:
    from payments import StripeApi
    from resolvers.context import RequestContext

log = logging.getLogger(__name__)
payments = scopes.payments
businesses = scopes.businesses

# PaymentIntent statuses in which the customer can still pay with it.
REUSABLE = frozenset({"requires_payment_method", "requires_confirmation", "requires_action"})


# -- recorded by staff ----------------------------------------------------------------------


async def record(
    ctx: RequestContext, invoice_id: str, amount_cents: int, method: PaymentMethod
) -> Row:
    """A payment the business received some other way than online."""
    viewer = ctx.staff()
    row = await invoices.get(ctx, invoice_id, field="invoiceId")
    if method == PaymentMethod.CARD:
        raise BadInput("Card payments come only from Stripe.", field="method")
    if amount_cents <= 0:
        raise BadInput("The amount must be more than zero.", field="amountCents")
    async with ctx.unit_of_work():
        current = await invoices.locked(ctx, row.id)
        if current is None:
            raise NotFound("Invoice")
        if current.status != InvoiceStatus.OPEN:
            raise Conflict(f"A {current.status.lower()} invoice takes no payments.")
        due = invoices.amount_due(current.status, current.total_cents, current.amount_paid_cents)
        if amount_cents > due:
            raise BadInput(
                f"That is more than is due ({due} cents).", field="amountCents", amountDue=due
            )
        await ctx.tx.execute(
            insert(payments).values(
                id=uuid.uuid4(),
                business_id=current.business_id,
                customer_id=current.customer_id,
                invoice_id=current.id,
                amount_cents=amount_cents,
                method=method,
                status=PaymentStatus.SUCCEEDED,
                recorded_by_staff_id=viewer.staff_member_id,
            )
        )
        await invoices.settle(ctx, current.id)
    return await invoices.get(ctx, invoice_id, field="invoiceId")


# -- Stripe Connect: onboarding and paying online --------------------------------------------


def _stripe(ctx: RequestContext) -> StripeApi:
    stripe = getattr(ctx.services, "stripe", None)
    if stripe is None:
        raise PaymentsDisabled("Online payment is not set up on this server.")
    return stripe


async def start_onboarding(ctx: RequestContext, back_to: str | None = None) -> str:
    """The business's connected account (made once), and a fresh onboarding link to it;
    `back_to`: the page Stripe returns to (checked with `return_address`)."""
    viewer = ctx.team_manager()
    stripe = _stripe(ctx)
    business = await ctx.loaders.business.load(viewer.business_id)
    account = business.stripe_account_id
    if account is None:
        # Idempotent on Stripe's side (keyed by the business): two admins racing get one.
        account = await stripe.create_express_account(str(business.id))
        async with ctx.unit_of_work():
            await ctx.tx.execute(
                update(businesses)
                .where(
                    businesses.c.id == business.id,
                    scopes.businesses_writable_by(viewer),
                    businesses.c.stripe_account_id.is_(None),
                )
                .values(stripe_account_id=account)
            )
    # Stripe sends the staff member back to their own console's page: this server has none.
    page = back_to or f"{ctx.settings.public_url}/settings/payments"
    separator = "&" if urlsplit(page).query else "?"
    return await stripe.onboarding_link(
        account, refresh_url=f"{page}{separator}stripe=refresh", return_url=page
    )


def return_address(value: str | None, field: str) -> str | None:
    """Where Stripe sends the staff member back to: an absolute http(s) URL, or none."""
    if value is None:
        return None
    address = inputs.text(value, field, max_length=2000, label="return address")
    parts = urlsplit(address)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise BadInput("Give an absolute http(s) address.", field=field)
    return address


@dataclass(frozen=True)
class PreparedPayment:
    client_secret: str
    stripe_account_id: str
    amount_cents: int
    currency: str


async def pay(ctx: RequestContext, invoice_id: str) -> PreparedPayment:
    """A PaymentIntent for what is due, as a direct charge on the business's account:
    the open one of the same amount if there is one, else a new one."""
    viewer = ctx.customer()
    row = await invoices.get(ctx, invoice_id, field="invoiceId")
    business = await ctx.loaders.business.load(row.business_id)
    stripe = getattr(ctx.services, "stripe", None)
    account = business.stripe_account_id
    if stripe is None or account is None or not business.charges_enabled:
        raise PaymentsDisabled(f"{business.name} does not take payments online yet.")
    due = invoices.amount_due(row.status, row.total_cents, row.amount_paid_cents)
    if row.status != InvoiceStatus.OPEN or due <= 0:
        raise Conflict("Nothing is due on this invoice.")
    previous = row.stripe_payment_intent_id
    if previous is not None:
        found = await stripe.find_payment_intent(account, previous)
        # Paid with it, and Stripe's word not here yet: a second intent could pay twice.
        in_flight = found is not None and (
            found.status == "processing"
            or (found.status == "succeeded" and await _card_payment(ctx, found.id) is None)
        )
        if in_flight:
            raise Conflict("A payment of this invoice is already under way.")
        if (
            found is not None
            and found.status in REUSABLE
            and found.amount == due
            and found.currency == row.currency
        ):
            return PreparedPayment(found.client_secret, account, due, row.currency)
    intent = await stripe.create_payment_intent(
        account,
        amount=due,
        currency=row.currency,
        metadata={
            "invoice_id": str(row.id),
            "business_id": str(row.business_id),
            "invoice_number": row.number or "",
        },
        description=f"Invoice {row.number}",
        # The same request for the same state asks once: two clicks make one intent.
        idempotency_key=f"invoice-{row.id}-{due}-{row.currency}-after-{previous or 'none'}",
    )
    async with ctx.unit_of_work():
        await ctx.tx.execute(
            scopes.invoice_payment_intents.update(viewer, stripe_payment_intent_id=intent.id).where(
                scopes.invoices.c.id == row.id
            )
        )
    return PreparedPayment(intent.client_secret, account, due, row.currency)


# -- Stripe's word, from webhooks (ctx acts for the account's business) -------------------------


def _invoice_key(metadata: Any) -> uuid.UUID | None:
    try:
        return uuid.UUID(str((metadata or {}).get("invoice_id")))
    except ValueError:
        return None


async def _card_payment(ctx: RequestContext, intent_id: str) -> Row | None:
    query = scopes.payments_visible_to(ctx.principal)
    return await ctx.tx.first(
        query.where(query.selected_columns.stripe_payment_intent_id == intent_id)
    )


async def _locked_invoice(ctx: RequestContext, metadata: Any, what: str) -> Row | None:
    key = _invoice_key(metadata)
    invoice = await invoices.locked(ctx, key) if key is not None else None
    if invoice is None:
        log.warning("Stripe %s for an invoice we do not know (%s): acknowledged", what, metadata)
    return invoice


def _moment(epoch: object) -> datetime:
    return datetime.fromtimestamp(int(epoch), UTC) if epoch else datetime.now(UTC)  # type: ignore[arg-type]


async def _insert_card_payment(
    ctx: RequestContext,
    invoice: Row,
    intent_id: str,
    amount: int,
    status: PaymentStatus,
    **more: Any,
) -> None:
    await ctx.tx.execute(
        insert(payments).values(
            id=uuid.uuid4(),
            business_id=invoice.business_id,
            customer_id=invoice.customer_id,
            invoice_id=invoice.id,
            amount_cents=amount,
            method=PaymentMethod.CARD,
            status=status,
            stripe_payment_intent_id=intent_id,
            **more,
        )
    )


async def _update_payment(ctx: RequestContext, payment: Row, **values: Any) -> None:
    await ctx.tx.execute(
        update(payments)
        .where(payments.c.id == payment.id, scopes.payments_writable_by(ctx.principal))
        .values(**values)
    )


async def intent_succeeded(ctx: RequestContext, intent: dict[str, Any]) -> None:
    invoice = await _locked_invoice(ctx, intent.get("metadata"), "payment")
    if invoice is None:
        return
    amount = int(intent.get("amount_received") or intent.get("amount") or 0)
    if amount <= 0:
        return
    paid_at = _moment(intent.get("created"))
    payment = await _card_payment(ctx, intent["id"])
    if payment is None:
        await _insert_card_payment(
            ctx, invoice, intent["id"], amount, PaymentStatus.SUCCEEDED, paid_at=paid_at
        )
    elif payment.status == PaymentStatus.FAILED:
        await _update_payment(
            ctx, payment, status=PaymentStatus.SUCCEEDED, amount_cents=amount, paid_at=paid_at
        )
    # Otherwise recorded already (a refund's event came first): nothing to add.
    if invoice.status == InvoiceStatus.VOID:
        log.warning("payment %s arrived for void invoice %s", intent["id"], invoice.id)
    await invoices.settle(ctx, invoice.id)


async def intent_failed(ctx: RequestContext, intent: dict[str, Any]) -> None:
    """A failed attempt shows in the invoice's payments; it never undoes a success."""
    invoice = await _locked_invoice(ctx, intent.get("metadata"), "failed payment")
    if invoice is None:
        return
    amount = int(intent.get("amount") or 0)
    if amount > 0 and await _card_payment(ctx, intent["id"]) is None:
        await _insert_card_payment(
            ctx,
            invoice,
            intent["id"],
            amount,
            PaymentStatus.FAILED,
            paid_at=_moment(intent.get("created")),
        )


async def charge_refunded(ctx: RequestContext, charge: dict[str, Any]) -> None:
    """`amount_refunded` is the charge's running total, so any order of refund events ends
    with the largest one."""
    intent_id = charge.get("payment_intent")
    if not intent_id:
        log.warning("refund of charge %s without a payment intent: acknowledged", charge.get("id"))
        return
    payment = await _card_payment(ctx, intent_id)
    metadata = charge.get("metadata") or {}
    if payment is not None:
        metadata = {"invoice_id": str(payment.invoice_id)}
    invoice = await _locked_invoice(ctx, metadata, "refund")
    if invoice is None:
        return
    amount = int(charge.get("amount_captured") or charge.get("amount") or 0)
    if payment is None:
        # The refund's event came before the payment's: record the payment from the charge.
        if amount <= 0:
            return
        await _insert_card_payment(
            ctx,
            invoice,
            intent_id,
            amount,
            PaymentStatus.SUCCEEDED,
            paid_at=_moment(charge.get("created")),
        )
        payment = await _card_payment(ctx, intent_id)
        assert payment is not None
    refunded = min(
        max(int(charge.get("amount_refunded") or 0), payment.refunded_cents), payment.amount_cents
    )
    status = (
        PaymentStatus.REFUNDED
        if refunded >= payment.amount_cents
        else PaymentStatus.PARTIALLY_REFUNDED
        if refunded > 0
        else PaymentStatus(payment.status)
    )
    if payment.status == PaymentStatus.FAILED:
        status = PaymentStatus.FAILED
    await _update_payment(ctx, payment, refunded_cents=refunded, status=status)
    await invoices.settle(ctx, invoice.id)


async def account_updated(ctx: RequestContext, account: dict[str, Any], created: object) -> None:
    """Whether the business can take card payments, as of the newest event seen."""
    principal = ctx.principal
    assert principal is not None
    as_of = _moment(created)
    await ctx.tx.execute(
        update(businesses)
        .where(
            businesses.c.id == principal.business_id,
            scopes.businesses_writable_by(principal),
            businesses.c.stripe_account_id == account.get("id"),
            (businesses.c.stripe_account_synced_at.is_(None))
            | (businesses.c.stripe_account_synced_at <= as_of),
        )
        .values(
            charges_enabled=bool(account.get("charges_enabled")), stripe_account_synced_at=as_of
        )
    )
