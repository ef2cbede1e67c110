"""Invoices, their line items and payments; Stripe Connect onboarding and paying online
(resolvers/invoices.py, resolvers/payments.py)."""

from __future__ import annotations

import math
import uuid
import warnings
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Annotated, NewType

import strawberry
from sqlalchemy import Row
from strawberry.types import Info

import readpath
from auth import scopes
from models import InvoiceStatus as InvoiceStatusValues
from models import PaymentMethod as PaymentMethodValues
from models import PaymentStatus as PaymentStatusValues
from resolvers import global_ids, invoices, payments
from resolvers.context import RequestContext
from schema.accounts import Business
from schema.customers import Customer, changes_of
from schema.relay import Connection, Node, node_type

if TYPE_CHECKING:
    from schema.jobs import Job

JobType = Annotated["Job", strawberry.lazy("schema.jobs")]
InvoiceStatus = strawberry.enum(InvoiceStatusValues, name="InvoiceStatus")
PaymentMethod = strawberry.enum(PaymentMethodValues, name="PaymentMethod")
PaymentStatus = strawberry.enum(PaymentStatusValues, name="PaymentStatus")

HUNDREDTH = Decimal("0.01")


def parse_quantity(value: object) -> Decimal:
    """A number or a numeric string with at most two decimal places."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValueError('Give the quantity as a number or a string, e.g. 1.5 or "1.5".')
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError("The quantity must be a finite number.")
    try:
        # repr of a float is its shortest exact spelling: 1.1 stays 1.1.
        parsed = Decimal(repr(value) if isinstance(value, float) else str(value).strip())
        if not parsed.is_finite() or abs(parsed) >= 10**10:
            raise ValueError("The quantity must be a finite number below 10 billion.")
        exact = parsed.quantize(HUNDREDTH)
    except InvalidOperation:
        raise ValueError(f"{value!r} is not a decimal number.") from None
    if exact != parsed:
        raise ValueError("A quantity has at most two decimal places.")
    return exact


def serialize_quantity(value: Decimal) -> str:
    """As a string, without trailing zeros: 1.50 → "1.5", 2.00 → "2"."""
    return format(Decimal(value).normalize(), "f")


# Strawberry prefers a schema-wide scalar_map now; a scalar that lives with its one domain
# reads better here, and the wrapped form still works (its deprecation notice is muted).
with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    Quantity = strawberry.scalar(
        NewType("Quantity", Decimal),
        name="Decimal",
        description="A decimal number with at most two places; given as a number or a string, "
        'returned as a string ("1.5").',
        serialize=serialize_quantity,
        parse_value=parse_quantity,
    )


@strawberry.type
class InvoiceLineItem:
    description: str
    quantity: Quantity  # type: ignore[valid-type]
    unit_price_cents: int
    amount_cents: int = strawberry.field(
        description="quantity × unitPriceCents, rounded to the cent half up (ties away from zero)."
    )

    @classmethod
    def from_row(cls, row: Row) -> InvoiceLineItem:
        return cls(
            description=row.description,
            quantity=row.quantity,
            unit_price_cents=row.unit_price_cents,
            amount_cents=row.amount_cents,
        )


@node_type
@strawberry.type
class Payment(Node):
    amount_cents: int = strawberry.field(description="What was paid, before any refund.")
    method: PaymentMethod
    status: PaymentStatus
    paid_at: datetime

    @classmethod
    def from_row(cls, row: Row) -> Payment:
        return cls(
            id=global_ids.encode("Payment", row.id),
            amount_cents=row.amount_cents,
            method=PaymentMethodValues(row.method),
            status=PaymentStatusValues(row.status),
            paid_at=row.paid_at,
        )


@node_type
@strawberry.type
class Invoice(Node):
    number: str | None = strawberry.field(description="Given when sent: INV-0001, INV-0002 …")
    status: InvoiceStatus
    currency: str = strawberry.field(description="ISO 4217, lower case.")
    subtotal_cents: int = strawberry.field(description="The sum of the lines' amounts.")
    tax_cents: int
    total_cents: int = strawberry.field(description="subtotalCents + taxCents.")
    amount_paid_cents: int = strawberry.field(description="Payments net of refunds.")
    due_date: date | None
    issued_at: datetime | None = strawberry.field(description="When it was sent.")
    paid_at: datetime | None = strawberry.field(description="When it was paid in full.")
    key: strawberry.Private[uuid.UUID]
    customer_key: strawberry.Private[uuid.UUID]
    job_key: strawberry.Private[uuid.UUID | None]
    time_zone: strawberry.Private[str]
    charges_enabled: strawberry.Private[bool]

    @classmethod
    def from_row(cls, row: Row) -> Invoice:
        return cls(
            id=global_ids.encode("Invoice", row.id),
            number=row.number,
            status=InvoiceStatusValues(row.status),
            currency=row.currency,
            subtotal_cents=row.subtotal_cents,
            tax_cents=row.tax_cents,
            total_cents=row.total_cents,
            amount_paid_cents=row.amount_paid_cents,
            due_date=row.due_date,
            issued_at=row.issued_at,
            paid_at=row.paid_at,
            key=row.id,
            customer_key=row.customer_id,
            job_key=row.job_id,
            time_zone=row.time_zone,
            charges_enabled=row.charges_enabled,
        )

    @strawberry.field(description="totalCents − amountPaidCents, never below 0; 0 when void.")
    def amount_due_cents(self) -> int:
        return invoices.amount_due(self.status, self.total_cents, self.amount_paid_cents)

    @strawberry.field(description="OPEN and past its due date in the business's time zone.")
    def is_overdue(self) -> bool:
        return invoices.is_overdue(self.status, self.due_date, self.time_zone)

    @strawberry.field(description="Whether `payInvoice` would take a payment now.")
    def can_pay_online(self, info: Info[RequestContext, None]) -> bool:
        return invoices.can_pay_online(
            info.context,
            self.status,
            self.total_cents,
            self.amount_paid_cents,
            self.charges_enabled,
        )

    @strawberry.field(description="In the order they were written.")
    async def line_items(self, info: Info[RequestContext, None]) -> list[InvoiceLineItem]:
        rows = await info.context.loaders.line_items_by_invoice.load(self.key)
        return [InvoiceLineItem.from_row(row) for row in rows]

    @strawberry.field(description="Oldest first, failed attempts and refunds included.")
    async def payments(self, info: Info[RequestContext, None]) -> list[Payment]:
        rows = await info.context.loaders.payments_by_invoice.load(self.key)
        return [Payment.from_row(row) for row in rows]

    @strawberry.field
    async def customer(self, info: Info[RequestContext, None]) -> Customer:
        return Customer.from_row(await info.context.loaders.customer.load(self.customer_key))

    @strawberry.field
    async def job(self, info: Info[RequestContext, None]) -> JobType | None:
        from schema.jobs import Job

        if self.job_key is None:
            return None
        row = await info.context.loaders.job.load(self.job_key)
        return Job.from_row(row) if row else None


@strawberry.type
class StripeOnboarding:
    url: str = strawberry.field(description="Stripe's onboarding; single use, short-lived.")


@strawberry.type
class InvoicePaymentIntent:
    client_secret: str = strawberry.field(description="For Stripe.js, with stripeAccountId.")
    stripe_account_id: str
    amount_cents: int
    currency: str


readpath.declare(
    "Invoice",
    scopes.invoices_visible_to,
    id=readpath.Computed(("id",), global_ids.encoder("Invoice")),
    number=readpath.Column("number"),
    status=readpath.Column("status"),
    isOverdue=readpath.Computed(("status", "due_date", "time_zone"), invoices.is_overdue),
    currency=readpath.Column("currency"),
    subtotalCents=readpath.Column("subtotal_cents"),
    taxCents=readpath.Column("tax_cents"),
    totalCents=readpath.Column("total_cents"),
    amountPaidCents=readpath.Column("amount_paid_cents"),
    amountDueCents=readpath.Computed(
        ("status", "total_cents", "amount_paid_cents"), invoices.amount_due
    ),
    dueDate=readpath.Column("due_date"),
    issuedAt=readpath.Column("issued_at"),
    paidAt=readpath.Column("paid_at"),
    lineItems=readpath.Rows(
        "InvoiceLineItem",
        source=lambda ctx, a: scopes.invoice_line_items_visible_to(ctx.principal),
        ordering=lambda a: invoices.LINE_ORDER,
        parent=("invoice_id", "id"),
    ),
    payments=readpath.Rows(
        "Payment",
        source=lambda ctx, a: scopes.payments_visible_to(ctx.principal),
        ordering=lambda a: invoices.PAYMENT_ORDER,
        parent=("invoice_id", "id"),
    ),
    canPayOnline=readpath.Computed(
        ("status", "total_cents", "amount_paid_cents", "charges_enabled"),
        invoices.can_pay_online,
        context=True,
    ),
    customer=readpath.Related("Customer", "customer_id"),
    job=readpath.Related("Job", "job_id"),
)
readpath.declare(
    "InvoiceLineItem",
    scopes.invoice_line_items_visible_to,
    description=readpath.Column("description"),
    quantity=readpath.Column("quantity"),
    unitPriceCents=readpath.Column("unit_price_cents"),
    amountCents=readpath.Column("amount_cents"),
)
readpath.declare(
    "Payment",
    scopes.payments_visible_to,
    id=readpath.Computed(("id",), global_ids.encoder("Payment")),
    amountCents=readpath.Column("amount_cents"),
    method=readpath.Column("method"),
    status=readpath.Column("status"),
    paidAt=readpath.Column("paid_at"),
)


def _nested(parent: str) -> readpath.Connection:
    return readpath.Connection(
        "Invoice",
        source=lambda ctx, a: invoices.filtered_visible_to(
            ctx.principal, invoices.statuses_of(a.get("status"))
        ),
        ordering=lambda a: invoices.ORDER,
        parent=(parent, "id"),
    )


# Customer.invoices and Job.invoices (their modules hold the fields; the SQL is here).
readpath.declare("Customer", scopes.customers_visible_to, invoices=_nested("customer_id"))
readpath.declare("Job", scopes.jobs_visible_to, invoices=_nested("job_id"))


async def nested_invoices(
    info: Info[RequestContext, None],
    parent: str,
    key: uuid.UUID,
    status: list[InvoiceStatusValues] | None,
    first: int | None,
    after: str | None,
) -> Connection[Invoice]:
    """Customer.invoices (parent "customer") and Job.invoices ("job") for the executed
    path: each parent's page through one loader."""
    loaders = info.context.loaders
    statuses = invoices.statuses_of(status)
    page = await getattr(loaders, f"invoices_by_{parent}").load(
        (key, statuses, invoices.args_for(first, after))
    )

    async def count() -> int:
        return await getattr(loaders, f"invoice_count_by_{parent}").load((key, statuses))

    return Connection.of(page, Invoice.from_row, count)


@strawberry.input
class InvoiceLineItemInput:
    description: str
    quantity: Quantity  # type: ignore[valid-type]
    unit_price_cents: int


@strawberry.input
class CreateInvoiceInput:
    customer_id: strawberry.ID
    line_items: list[InvoiceLineItemInput]
    job_id: strawberry.ID | None = strawberry.UNSET
    due_date: date | None = strawberry.field(
        default=strawberry.UNSET, description="May lie in the past."
    )
    currency: str | None = strawberry.field(
        default=strawberry.UNSET, description="ISO 4217 (usd when not given)."
    )
    tax_cents: int | None = strawberry.UNSET


@strawberry.input
class UpdateInvoiceInput:
    id: strawberry.ID
    line_items: list[InvoiceLineItemInput] | None = strawberry.field(
        default=strawberry.UNSET, description="Replaces every line."
    )
    job_id: strawberry.ID | None = strawberry.UNSET
    due_date: date | None = strawberry.UNSET
    currency: str | None = strawberry.UNSET
    tax_cents: int | None = strawberry.UNSET


@strawberry.input
class RecordPaymentInput:
    invoice_id: strawberry.ID
    amount_cents: int
    method: PaymentMethod


def _invoice_changes(input: CreateInvoiceInput | UpdateInvoiceInput) -> dict[str, object]:
    changes = changes_of(input)
    lines = changes.get("line_items")
    if lines is not None:
        changes["line_items"] = [vars(line) for line in lines]  # type: ignore[union-attr]
    return changes


@strawberry.type
class InvoiceQueries:
    @strawberry.field(
        description="Newest first. A customer gets their own, never drafts; staff get the "
        "business's."
    )
    async def invoices(
        self,
        info: Info[RequestContext, None],
        status: list[InvoiceStatus] | None = None,
        customer_id: strawberry.ID | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[Invoice]:
        page, count = await invoices.list_invoices(
            info.context,
            statuses=invoices.statuses_of(status),
            customer_id=customer_id,
            first=first,
            after=after,
        )
        return Connection.of(page, Invoice.from_row, count)


readpath.root(
    invoices=readpath.Connection(
        "Invoice",
        source=lambda ctx, a: invoices.listing(
            ctx, statuses=invoices.statuses_of(a.get("status")), customer_id=a.get("customerId")
        ),
        ordering=lambda a: invoices.ORDER,
    )
)


@strawberry.type
class InvoiceMutations:
    @strawberry.mutation
    async def create_invoice(
        self, info: Info[RequestContext, None], input: CreateInvoiceInput
    ) -> Invoice:
        return Invoice.from_row(await invoices.create(info.context, _invoice_changes(input)))

    @strawberry.mutation(description="Only while DRAFT.")
    async def update_invoice(
        self, info: Info[RequestContext, None], input: UpdateInvoiceInput
    ) -> Invoice:
        row = await invoices.change(info.context, input.id, _invoice_changes(input))
        return Invoice.from_row(row)

    @strawberry.mutation(description="DRAFT → OPEN, numbered, and emailed to the customer.")
    async def send_invoice(self, info: Info[RequestContext, None], id: strawberry.ID) -> Invoice:
        return Invoice.from_row(await invoices.send(info.context, id))

    @strawberry.mutation
    async def void_invoice(self, info: Info[RequestContext, None], id: strawberry.ID) -> Invoice:
        return Invoice.from_row(await invoices.void(info.context, id))

    @strawberry.mutation(description="A payment received some other way (not CARD).")
    async def record_payment(
        self, info: Info[RequestContext, None], input: RecordPaymentInput
    ) -> Invoice:
        row = await payments.record(
            info.context, input.invoice_id, input.amount_cents, PaymentMethodValues(input.method)
        )
        return Invoice.from_row(row)

    @strawberry.mutation(
        description="OWNER/ADMIN: the business's Stripe Connect account (made once) and a "
        "fresh onboarding link."
    )
    async def start_stripe_onboarding(
        self,
        info: Info[RequestContext, None],
        return_url: Annotated[
            str | None,
            strawberry.argument(
                description="Your staff console's page Stripe sends the staff member back "
                "to (unset: PUBLIC_URL/settings/payments)."
            ),
        ] = None,
    ) -> StripeOnboarding:
        back_to = payments.return_address(return_url, "return_url")
        return StripeOnboarding(url=await payments.start_onboarding(info.context, back_to))

    @strawberry.mutation(
        description="The invoice's customer: a PaymentIntent for what is due, to confirm with "
        "Stripe.js. The payment counts once Stripe's webhook confirms it."
    )
    async def pay_invoice(
        self, info: Info[RequestContext, None], invoice_id: strawberry.ID
    ) -> InvoicePaymentIntent:
        prepared = await payments.pay(info.context, invoice_id)
        return InvoicePaymentIntent(
            client_secret=prepared.client_secret,
            stripe_account_id=prepared.stripe_account_id,
            amount_cents=prepared.amount_cents,
            currency=prepared.currency,
        )

    @strawberry.mutation(
        description="OWNER/ADMIN: the business's IANA time zone (e.g. America/Chicago), by "
        "whose calendar invoices fall overdue."
    )
    async def set_business_time_zone(
        self, info: Info[RequestContext, None], time_zone: str
    ) -> Business:
        row = await invoices.set_time_zone(info.context, time_zone)
        return Business.from_row(row)
