"""Invoices: drafted with line items, sent with a number, paid (in part or in full), voided.

Money is integer minor units end to end, and every amount is the server's: a line's amount
is its quantity times its unit price, rounded to the cent half up (ties away from zero:
1.5 × 3¢ = 4.5¢ → 5¢); the subtotal is the sum of the lines; the total adds the tax the
business gives. What has been paid is the sum of the invoice's payments net of refunds
(resolvers/payments.py keeps it), and what is due is the rest.

A customer reads their own invoices once sent (auth/scopes.py: drafts are never theirs).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import (
    Row,
    delete,
    func,
    insert,
    select,
    update,
)

from auth import scopes
from errors import BadInput, Conflict, NotFound
from mail import from_business, templates
from models import InvoiceStatus, PaymentStatus
from resolvers import global_ids, inputs, invoice_numbers, lists, loaders, nodes
from resolvers.pagination import (
    Ordering,
)

if TYPE_CHECKING:
    from resolvers.context import RequestContext

invoices = scopes.invoices
line_items = scopes.invoice_line_items
payments = scopes.payments

# Newest first.
ORDER = Ordering((("created_at", True), ("id", True)))
LINE_ORDER = Ordering((("position", False), ("id", False)))
PAYMENT_ORDER = Ordering((("paid_at", False), ("id", False)))

# GraphQL's Int is 32-bit: no amount may be larger.
MAX_CENTS = 2**31 - 1
MAX_QUANTITY = Decimal("1000000")
MAX_LINES = 100
CURRENCY = re.compile(r"[a-z]{3}")
CENT = Decimal(1)


# -- money: the same functions answer both read paths ----------------------------------------


def line_amount(quantity: Decimal, unit_price_cents: int) -> int:
    """quantity × unit price, rounded to the cent half up (ties away from zero)."""
    return int((quantity * unit_price_cents).quantize(CENT, rounding=ROUND_HALF_UP))


def amount_due(status: str, total_cents: int, amount_paid_cents: int) -> int:
    """What is left to pay: nothing on a void invoice, never less than nothing."""
    if status == InvoiceStatus.VOID:
        return 0
    return max(total_cents - amount_paid_cents, 0)


def today_in(time_zone: str) -> date:
    try:
        zone = ZoneInfo(time_zone)
    except (ZoneInfoNotFoundError, ValueError):
        zone = ZoneInfo("UTC")
    return datetime.now(zone).date()


def is_overdue(status: str, due_date: date | None, time_zone: str) -> bool:
    """OPEN and past its due date in the business's own calendar (the due day itself is
    not late)."""
    return status == InvoiceStatus.OPEN and due_date is not None and today_in(time_zone) > due_date


def can_pay_online(
    ctx: RequestContext, status: str, total: int, paid: int, charges_enabled: bool
) -> bool:
    """What `payInvoice` would accept: Stripe set up on this server, the business's
    connected account able to take charges, and something due on an open invoice."""
    return (
        payments_configured(ctx)
        and bool(charges_enabled)
        and status == InvoiceStatus.OPEN
        and amount_due(status, total, paid) > 0
    )


def payments_configured(ctx: RequestContext) -> bool:
    return getattr(ctx.services, "stripe", None) is not None


def business_payments_enabled(ctx: RequestContext, charges_enabled: bool) -> bool:
    return payments_configured(ctx) and bool(charges_enabled)


def formatted(cents: int, currency: str) -> str:
    """An amount as people read it in an email: 1234, usd → 12.34 USD."""
    if currency in ZERO_DECIMAL_CURRENCIES:
        return f"{cents:,} {currency.upper()}"
    return f"{cents // 100:,}.{cents % 100:02d} {currency.upper()}"


# Stripe's currencies without minor units: their amounts are whole units.
ZERO_DECIMAL_CURRENCIES = frozenset(
    [
        "bif",
        "clp",
        "djf",
        "gnf",
        "jpy",
        "kmf",
        "krw",
        "mga",
        "pyg",
        "rwf",
        "ugx",
        "vnd",
        "vuv",
        "xaf",
        "xof",
        "xpf",
    ]
)


# -- reads ----------------------------------------------------------------------------------


# Every list of invoices: by status, of one customer if named (resolvers/lists.py).
INVOICE_LISTS = lists.ByStatus(scopes.invoices_visible_to, InvoiceStatus, invoices, ORDER)
statuses_of = INVOICE_LISTS.statuses_of
filtered_visible_to = INVOICE_LISTS.visible_to
listing = INVOICE_LISTS.listing
args_for = INVOICE_LISTS.args_for
list_invoices = INVOICE_LISTS.page


loaders.register("invoice", loaders.by_id(scopes.invoices_visible_to))
loaders.register("payment", loaders.by_id(scopes.payments_visible_to))
INVOICE_LISTS.register("invoice", ["customer_id", "job_id"])
loaders.register(
    "line_items_by_invoice",
    lists.rows_by(scopes.invoice_line_items_visible_to, "invoice_id", LINE_ORDER),
)
loaders.register(
    "payments_by_invoice", lists.rows_by(scopes.payments_visible_to, "invoice_id", PAYMENT_ORDER)
)
nodes.register("Invoice", "invoice")
nodes.register("Payment", "payment")


async def get(ctx: RequestContext, invoice_id: str, *, field: str = "id") -> Row:
    """An invoice the viewer may see, or NOT_FOUND."""
    key = global_ids.decode(invoice_id, "Invoice", field=field)
    row = await ctx.loaders.invoice.load(key)
    if row is None:
        raise NotFound("Invoice")
    return row


async def locked(ctx: RequestContext, key: uuid.UUID) -> Row | None:
    """The invoice, its row locked until the request ends: payments against one invoice
    are counted one after another."""
    query = scopes.invoices_visible_to(ctx.principal)
    return await ctx.tx.first(
        query.where(query.selected_columns.id == key).with_for_update(of=invoices)
    )


# -- writes ---------------------------------------------------------------------------------


def _cents(value: object, field: str, label: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise BadInput(f"The {label} must be a whole number of cents.", field=field)
    if value < 0:
        raise BadInput(f"The {label} cannot be negative.", field=field)
    if value > MAX_CENTS:
        raise BadInput(f"The {label} is too large.", field=field)
    return value


def _lines(items: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    if not items:
        raise BadInput("Add at least one line item.", field="lineItems")
    if len(items) > MAX_LINES:
        raise BadInput(f"An invoice can have at most {MAX_LINES} lines.", field="lineItems")
    lines = []
    for index, item in enumerate(items):
        at = f"lineItems.{index}"
        description = inputs.text(
            item.get("description"), f"{at}.description", max_length=500, label="description"
        )
        quantity = item.get("quantity")
        if not isinstance(quantity, Decimal) or not quantity > 0:
            raise BadInput("The quantity must be more than zero.", field=f"{at}.quantity")
        if quantity > MAX_QUANTITY:
            raise BadInput("The quantity is too large.", field=f"{at}.quantity")
        price = _cents(item.get("unit_price_cents"), f"{at}.unitPriceCents", "unit price")
        amount = line_amount(quantity, price)
        if amount > MAX_CENTS:
            raise BadInput("This line's amount is too large.", field=f"{at}.quantity")
        lines.append(
            {
                "position": index,
                "description": description,
                "quantity": quantity,
                "unit_price_cents": price,
                "amount_cents": amount,
            }
        )
    return lines


def _currency(value: object) -> str:
    code = str(value or "").strip().lower()
    if not CURRENCY.fullmatch(code):
        raise BadInput("Give the currency as a three-letter ISO code (usd).", field="currency")
    return code


async def _job_of(ctx: RequestContext, job_id: str | None, customer_id: uuid.UUID) -> Any:
    if job_id is None:
        return None
    key = global_ids.decode(job_id, "Job", field="jobId")
    job = await ctx.loaders.job.load(key)
    if job is None:
        raise NotFound("Job")
    if job.customer_id != customer_id:
        raise BadInput("This job is another customer's.", field="jobId")
    return key


def _totals(lines: list[dict[str, Any]], tax_cents: int) -> dict[str, int]:
    subtotal = sum(line["amount_cents"] for line in lines)
    total = subtotal + tax_cents
    if total > MAX_CENTS:
        raise BadInput("The invoice's total is too large.", field="lineItems")
    return {"subtotal_cents": subtotal, "tax_cents": tax_cents, "total_cents": total}


async def _write_lines(ctx: RequestContext, invoice: Row, lines: list[dict[str, Any]]) -> None:
    await ctx.tx.execute(
        delete(line_items).where(
            line_items.c.invoice_id == invoice.id,
            scopes.invoice_line_items_writable_by(ctx.principal),
        )
    )
    # One statement for every line (a multi-row VALUES).
    await ctx.tx.execute(
        insert(line_items).values(
            [
                {
                    "id": uuid.uuid4(),
                    "business_id": invoice.business_id,
                    "customer_id": invoice.customer_id,
                    "invoice_id": invoice.id,
                    **line,
                }
                for line in lines
            ]
        )
    )


async def create(ctx: RequestContext, changes: dict[str, Any]) -> Row:
    viewer = ctx.staff()
    customer_key = global_ids.decode(changes["customer_id"], "Customer", field="customerId")
    if await ctx.loaders.customer.load(customer_key) is None:
        raise NotFound("Customer")
    job_key = await _job_of(ctx, changes.get("job_id"), customer_key)
    lines = _lines(changes.get("line_items") or [])
    tax = _cents(changes.get("tax_cents") or 0, "taxCents", "tax")
    currency = _currency(changes.get("currency") or "usd")
    key = uuid.uuid4()
    async with ctx.unit_of_work():
        row = await ctx.tx.first(
            insert(invoices)
            .values(
                id=key,
                business_id=viewer.business_id,
                customer_id=customer_key,
                job_id=job_key,
                status=InvoiceStatus.DRAFT,
                currency=currency,
                due_date=changes.get("due_date"),
                created_at=func.clock_timestamp(),
                **_totals(lines, tax),
            )
            .returning(invoices.c.id, invoices.c.business_id, invoices.c.customer_id)
        )
        assert row is not None
        await _write_lines(ctx, row, lines)
    return await _fresh(ctx, key)


async def _fresh(ctx: RequestContext, key: uuid.UUID) -> Row:
    """The invoice as reads see it, after a change (loaders start afresh after a unit of
    work)."""
    row = await ctx.loaders.invoice.load(key)
    if row is None:
        raise NotFound("Invoice")
    return row


async def _save(ctx: RequestContext, row: Row, values: dict[str, Any]) -> None:
    """UPDATE what the viewer may write. Reads see the change through `_fresh` once the
    unit of work is over (its end empties the loaders)."""
    changed = await ctx.tx.scalar(
        update(invoices)
        .where(invoices.c.id == row.id, scopes.invoices_writable_by(ctx.principal))
        .values(**values)
        .returning(invoices.c.id)
    )
    if changed is None:
        raise NotFound("Invoice")


async def change(ctx: RequestContext, invoice_id: str, changes: dict[str, Any]) -> Row:
    ctx.staff()
    row = await get(ctx, invoice_id)
    if row.status != InvoiceStatus.DRAFT:
        raise Conflict("Only a draft invoice can be changed.")
    values: dict[str, Any] = {}
    if "job_id" in changes:
        values["job_id"] = await _job_of(ctx, changes["job_id"], row.customer_id)
    if "due_date" in changes:
        values["due_date"] = changes["due_date"]
    if "currency" in changes:
        values["currency"] = _currency(changes["currency"] or "usd")
    lines = None
    if changes.get("line_items") is not None:
        lines = _lines(changes["line_items"])
    if "tax_cents" in changes or lines is not None:
        tax = _cents(changes.get("tax_cents", row.tax_cents) or 0, "taxCents", "tax")
        if lines is None:
            values["tax_cents"] = tax
            values["total_cents"] = row.subtotal_cents + tax
            if values["total_cents"] > MAX_CENTS:
                raise BadInput("The invoice's total is too large.", field="taxCents")
        else:
            values.update(_totals(lines, tax))
    if not values and lines is None:
        return row
    async with ctx.unit_of_work():
        # Only while still a draft: a send racing this change wins or loses whole.
        locked_row = await locked(ctx, row.id)
        if locked_row is None or locked_row.status != InvoiceStatus.DRAFT:
            raise Conflict("Only a draft invoice can be changed.")
        await _save(ctx, row, values)
        if lines is not None:
            await _write_lines(ctx, row, lines)
    return await _fresh(ctx, row.id)


async def send(ctx: RequestContext, invoice_id: str) -> Row:
    """DRAFT → OPEN with the business's next number, and an email to the customer."""
    viewer = ctx.staff()
    row = await get(ctx, invoice_id)
    if row.status != InvoiceStatus.DRAFT:
        raise Conflict("This invoice has been sent already.")
    async with ctx.unit_of_work():
        current = await locked(ctx, row.id)
        if current is None or current.status != InvoiceStatus.DRAFT:
            raise Conflict("This invoice has been sent already.")
        # In this transaction, after the invoice's own lock: a send that fails takes its
        # number back with it, so numbers have no gaps.
        number = await invoice_numbers.next_number(ctx.tx, viewer)
        await _save(
            ctx,
            row,
            {"status": InvoiceStatus.OPEN, "number": number, "issued_at": func.now()},
        )
        await ctx.tx.execute(
            line_items.update()
            .where(
                line_items.c.invoice_id == row.id,
                scopes.invoice_line_items_writable_by(viewer),
            )
            .values(visible_to_customer=True)
        )
        # Nothing to pay (a zero total) is paid already.
        await settle(ctx, row.id)
    sent = await _fresh(ctx, row.id)
    await _mail_invoice(ctx, sent)
    return sent


async def _mail_invoice(ctx: RequestContext, invoice: Row) -> None:
    customer = await ctx.loaders.customer.load(invoice.customer_id)
    if customer is None or not customer.email:
        return  # the customer still finds it in their portal
    business = await ctx.loaders.business.load(invoice.business_id)
    letter = templates.invoice_sent(
        business=business.name,
        customer=customer.name,
        number=invoice.number,
        amount=formatted(invoice.total_cents, invoice.currency),
        due=invoice.due_date.isoformat() if invoice.due_date else None,
        link=f"{ctx.settings.public_url}/portal/{business.slug}/invoices/"
        f"{global_ids.encode('Invoice', invoice.id)}",
    )
    message = from_business(business.name, letter, sender=ctx.settings.SMTP_FROM, to=customer.email)
    mailer = ctx.services.mailer

    async def deliver() -> None:
        await mailer.send(message)

    # After the commit: the number's lock is not held while a mail server answers, and a
    # mail that cannot go out is logged (the invoice is in the portal either way).
    ctx.tx.after_commit(deliver)


async def void(ctx: RequestContext, invoice_id: str) -> Row:
    ctx.staff()
    row = await get(ctx, invoice_id)
    async with ctx.unit_of_work():
        current = await locked(ctx, row.id)
        if current is None:
            raise NotFound("Invoice")
        if current.status == InvoiceStatus.VOID:
            raise Conflict("This invoice is void already.")
        if current.status == InvoiceStatus.PAID or current.amount_paid_cents > 0:
            raise Conflict("This invoice has payments: refund them before voiding it.")
        await _save(ctx, row, {"status": InvoiceStatus.VOID, "voided_at": func.now()})
    return await _fresh(ctx, row.id)


async def settle(ctx: RequestContext, key: uuid.UUID) -> None:
    """Bring the invoice's paid amount and status in line with its payments (net of
    refunds): paid in full → PAID, something due again → OPEN. A draft or void invoice
    keeps its status. The caller holds the invoice's lock (`locked`)."""
    paid = await ctx.tx.scalar(
        select(
            func.coalesce(func.sum(payments.c.amount_cents - payments.c.refunded_cents), 0)
        ).where(payments.c.invoice_id == key, payments.c.status != PaymentStatus.FAILED)
    )
    current = await locked(ctx, key)
    if current is None:
        raise NotFound("Invoice")
    values: dict[str, Any] = {"amount_paid_cents": int(paid)}
    if current.status in (InvoiceStatus.OPEN, InvoiceStatus.PAID):
        if paid >= current.total_cents:
            values["status"] = InvoiceStatus.PAID
            if current.status != InvoiceStatus.PAID:
                values["paid_at"] = func.now()
        else:
            values["status"] = InvoiceStatus.OPEN
            values["paid_at"] = None
    await _save(ctx, current, values)


async def set_time_zone(ctx: RequestContext, time_zone: str) -> Row:
    """The business's IANA time zone, by whose calendar its invoices fall overdue."""
    viewer = ctx.team_manager()
    name = (time_zone or "").strip()
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise BadInput("Give an IANA time zone, e.g. America/Chicago.", field="timeZone") from None
    businesses = scopes.businesses
    async with ctx.unit_of_work():
        await ctx.tx.execute(
            update(businesses)
            .where(businesses.c.id == viewer.business_id, scopes.businesses_writable_by(viewer))
            .values(time_zone=name)
        )
    return await ctx.loaders.business.load(viewer.business_id)
