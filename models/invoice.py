"""Invoices a business sends a customer, their line items and the payments against them.

Money is integer minor units (cents) everywhere; the server computes every amount from the
line items (resolvers/invoices.py says how a line is rounded). A customer reads an invoice
once it is sent: `visible_to_customer`, generated from `issued_at` on invoices and set at
send on line items, is the flag the row rule reads (migrations/rls.py `customer_flag`).
"""

from __future__ import annotations

import enum
import uuid
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Computed,
    Date,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    UniqueConstraint,
    Uuid,
    false,
    text,
)
from sqlmodel import Field, SQLModel

from models.columns import business_id_field, id_field, reference, timestamp


class InvoiceStatus(enum.StrEnum):
    DRAFT = "DRAFT"
    OPEN = "OPEN"
    PAID = "PAID"
    VOID = "VOID"


class PaymentMethod(enum.StrEnum):
    CARD = "CARD"
    CASH = "CASH"
    CHECK = "CHECK"
    BANK_TRANSFER = "BANK_TRANSFER"
    OTHER = "OTHER"


class PaymentStatus(enum.StrEnum):
    SUCCEEDED = "SUCCEEDED"
    PARTIALLY_REFUNDED = "PARTIALLY_REFUNDED"
    REFUNDED = "REFUNDED"
    FAILED = "FAILED"


# Sent, even if voided since; a draft voided before sending was never the customer's.
SENT_SQL = "issued_at IS NOT NULL"


def _cents(*, default: int | None = None) -> object:
    return Field(
        default=default,
        sa_column=Column(
            BigInteger,
            nullable=False,
            server_default=None if default is None else text(str(default)),
        ),
    )


class Invoice(SQLModel, table=True):
    __tablename__ = "invoices"
    __table_args__ = (
        CheckConstraint("status IN ('DRAFT', 'OPEN', 'PAID', 'VOID')", name="invoices_status"),
        CheckConstraint(
            "subtotal_cents >= 0 AND tax_cents >= 0 AND total_cents = subtotal_cents + tax_cents",
            name="invoices_amounts",
        ),
        CheckConstraint("currency ~ '^[a-z]{3}$'", name="invoices_currency"),
        # Numbers are given at send, one sequence per business.
        UniqueConstraint("business_id", "number", name="invoices_business_number"),
        Index("invoices_business_list", "business_id", "created_at", "id"),
        Index("invoices_customer_list", "customer_id", "created_at", "id"),
    )

    id: uuid.UUID = id_field()
    business_id: uuid.UUID = business_id_field()
    customer_id: uuid.UUID = reference("customers.id", index=False)
    job_id: uuid.UUID | None = Field(
        default=None,
        sa_column=Column(Uuid, ForeignKey("jobs.id", ondelete="SET NULL"), index=True),
    )
    number: str | None = Field(default=None, max_length=20)
    status: str = Field(default=InvoiceStatus.DRAFT, max_length=5)
    currency: str = Field(default="usd", max_length=3)
    subtotal_cents: int = _cents()
    tax_cents: int = _cents(default=0)
    total_cents: int = _cents()
    # Kept equal to the sum of the invoice's payments net of refunds (resolvers/payments.py).
    amount_paid_cents: int = _cents(default=0)
    due_date: date | None = Field(default=None, sa_column=Column(Date, nullable=True))
    issued_at: datetime | None = timestamp(nullable=True)
    paid_at: datetime | None = timestamp(nullable=True)
    voided_at: datetime | None = timestamp(nullable=True)
    created_at: datetime = timestamp(server_default=True)
    # The customer's latest online payment attempt, reused while it is still open.
    stripe_payment_intent_id: str | None = Field(default=None, max_length=255)
    visible_to_customer: bool | None = Field(
        default=None,
        sa_column=Column(Boolean, Computed(SENT_SQL, persisted=True), nullable=False),
    )


class InvoiceLineItem(SQLModel, table=True):
    __tablename__ = "invoice_line_items"
    __table_args__ = (
        CheckConstraint("quantity > 0", name="invoice_line_items_quantity"),
        CheckConstraint("unit_price_cents >= 0", name="invoice_line_items_unit_price"),
        Index("invoice_line_items_invoice_position", "invoice_id", "position"),
    )

    id: uuid.UUID = id_field()
    business_id: uuid.UUID = business_id_field()
    customer_id: uuid.UUID = Field(sa_column=Column(Uuid, nullable=False))
    invoice_id: uuid.UUID = Field(
        sa_column=Column(Uuid, ForeignKey("invoices.id", ondelete="CASCADE"), nullable=False)
    )
    position: int = Field(sa_column=Column(Integer, nullable=False))
    description: str = Field(max_length=500)
    quantity: Decimal = Field(sa_column=Column(Numeric(12, 2), nullable=False))
    unit_price_cents: int = _cents()
    amount_cents: int = _cents()
    # Set when the invoice is sent: a customer never reads a draft's lines.
    visible_to_customer: bool = Field(
        default=False, sa_column=Column(Boolean, nullable=False, server_default=false())
    )


class Payment(SQLModel, table=True):
    __tablename__ = "payments"
    __table_args__ = (
        CheckConstraint(
            "method IN ('CARD', 'CASH', 'CHECK', 'BANK_TRANSFER', 'OTHER')", name="payments_method"
        ),
        CheckConstraint(
            "status IN ('SUCCEEDED', 'PARTIALLY_REFUNDED', 'REFUNDED', 'FAILED')",
            name="payments_status",
        ),
        CheckConstraint(
            "amount_cents > 0 AND refunded_cents >= 0 AND refunded_cents <= amount_cents",
            name="payments_amounts",
        ),
        Index("payments_invoice_paid", "invoice_id", "paid_at", "id"),
    )

    id: uuid.UUID = id_field()
    business_id: uuid.UUID = business_id_field()
    customer_id: uuid.UUID = Field(sa_column=Column(Uuid, nullable=False))
    invoice_id: uuid.UUID = Field(
        sa_column=Column(Uuid, ForeignKey("invoices.id", ondelete="CASCADE"), nullable=False)
    )
    amount_cents: int = _cents()
    refunded_cents: int = _cents(default=0)
    method: str = Field(max_length=13)
    status: str = Field(default=PaymentStatus.SUCCEEDED, max_length=18)
    paid_at: datetime = timestamp(server_default=True)
    # Card payments: the PaymentIntent on the business's connected account (one row each).
    stripe_payment_intent_id: str | None = Field(default=None, max_length=255, unique=True)
    recorded_by_staff_id: uuid.UUID | None = Field(
        default=None,
        sa_column=Column(Uuid, ForeignKey("staff_members.id", ondelete="SET NULL")),
    )


class InvoiceCounter(SQLModel, table=True):
    """The last invoice number a business gave: `UPDATE … RETURNING` in the send's own
    transaction locks the row, so numbers have no gaps and no repeats."""

    __tablename__ = "invoice_counters"

    business_id: uuid.UUID = Field(
        sa_column=Column(Uuid, ForeignKey("businesses.id", ondelete="CASCADE"), primary_key=True)
    )
    last_number: int = Field(sa_column=Column(Integer, nullable=False, server_default="0"))


class StripeEvent(SQLModel, table=True):
    """Stripe events already handled, by id: a replay finds its id and does nothing. Only
    ids and types, no tenant data (so no business_id and no row rule)."""

    __tablename__ = "stripe_events"

    id: str = Field(primary_key=True, max_length=255)
    type: str = Field(max_length=100)
    account: str | None = Field(default=None, max_length=255)
    processed_at: datetime = timestamp(server_default=True)
