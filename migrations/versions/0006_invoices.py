"""invoices: line items, payments, per-business numbers; Stripe Connect on businesses;
handled Stripe events; a business's time zone

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

from migrations import rls

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _now() -> sa.TextClause:
    return sa.text("now()")


def _string(length: int) -> sqlmodel.sql.sqltypes.AutoString:
    return sqlmodel.sql.sqltypes.AutoString(length=length)


def _invoice_child_columns() -> list[sa.Column]:
    return [
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("business_id", sa.Uuid(), nullable=False),
        sa.Column("customer_id", sa.Uuid(), nullable=False),
        sa.Column("invoice_id", sa.Uuid(), nullable=False),
    ]


def _invoice_child_constraints() -> list[sa.Constraint]:
    return [
        sa.ForeignKeyConstraint(["business_id"], ["businesses.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["invoice_id"], ["invoices.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    ]


def upgrade() -> None:
    op.add_column(
        "businesses",
        sa.Column(
            "time_zone", sa.String(length=64), server_default=sa.text("'UTC'"), nullable=False
        ),
    )
    op.add_column("businesses", sa.Column("stripe_account_id", _string(255), nullable=True))
    op.add_column(
        "businesses",
        sa.Column("charges_enabled", sa.Boolean(), server_default=sa.false(), nullable=False),
    )
    op.add_column(
        "businesses",
        sa.Column("stripe_account_synced_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_unique_constraint(
        "businesses_stripe_account_id_key", "businesses", ["stripe_account_id"]
    )

    op.create_table(
        "invoices",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("business_id", sa.Uuid(), nullable=False),
        sa.Column("customer_id", sa.Uuid(), nullable=False),
        sa.Column("job_id", sa.Uuid(), nullable=True),
        sa.Column("number", _string(20), nullable=True),
        sa.Column("status", _string(5), nullable=False),
        sa.Column("currency", _string(3), nullable=False),
        sa.Column("subtotal_cents", sa.BigInteger(), nullable=False),
        sa.Column("tax_cents", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.Column("total_cents", sa.BigInteger(), nullable=False),
        sa.Column(
            "amount_paid_cents", sa.BigInteger(), server_default=sa.text("0"), nullable=False
        ),
        sa.Column("due_date", sa.Date(), nullable=True),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("paid_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("voided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=_now(), nullable=False),
        sa.Column("stripe_payment_intent_id", _string(255), nullable=True),
        sa.Column(
            "visible_to_customer",
            sa.Boolean(),
            sa.Computed("issued_at IS NOT NULL", persisted=True),
            nullable=False,
        ),
        sa.CheckConstraint("status IN ('DRAFT', 'OPEN', 'PAID', 'VOID')", name="invoices_status"),
        sa.CheckConstraint(
            "subtotal_cents >= 0 AND tax_cents >= 0 AND total_cents = subtotal_cents + tax_cents",
            name="invoices_amounts",
        ),
        sa.CheckConstraint("currency ~ '^[a-z]{3}$'", name="invoices_currency"),
        sa.ForeignKeyConstraint(["business_id"], ["businesses.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["job_id"], ["jobs.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("business_id", "number", name="invoices_business_number"),
    )
    op.create_index(op.f("ix_invoices_business_id"), "invoices", ["business_id"], unique=False)
    op.create_index(op.f("ix_invoices_job_id"), "invoices", ["job_id"], unique=False)
    op.create_index(
        "invoices_business_list", "invoices", ["business_id", "created_at", "id"], unique=False
    )
    op.create_index(
        "invoices_customer_list", "invoices", ["customer_id", "created_at", "id"], unique=False
    )

    op.create_table(
        "invoice_line_items",
        *_invoice_child_columns(),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("description", _string(500), nullable=False),
        sa.Column("quantity", sa.Numeric(12, 2), nullable=False),
        sa.Column("unit_price_cents", sa.BigInteger(), nullable=False),
        sa.Column("amount_cents", sa.BigInteger(), nullable=False),
        sa.Column("visible_to_customer", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.CheckConstraint("quantity > 0", name="invoice_line_items_quantity"),
        sa.CheckConstraint("unit_price_cents >= 0", name="invoice_line_items_unit_price"),
        *_invoice_child_constraints(),
    )
    op.create_index(
        op.f("ix_invoice_line_items_business_id"),
        "invoice_line_items",
        ["business_id"],
        unique=False,
    )
    op.create_index(
        "invoice_line_items_invoice_position",
        "invoice_line_items",
        ["invoice_id", "position"],
        unique=False,
    )

    op.create_table(
        "payments",
        *_invoice_child_columns(),
        sa.Column("amount_cents", sa.BigInteger(), nullable=False),
        sa.Column("refunded_cents", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.Column("method", _string(13), nullable=False),
        sa.Column("status", _string(18), nullable=False),
        sa.Column("paid_at", sa.DateTime(timezone=True), server_default=_now(), nullable=False),
        sa.Column("stripe_payment_intent_id", _string(255), nullable=True),
        sa.Column("recorded_by_staff_id", sa.Uuid(), nullable=True),
        sa.CheckConstraint(
            "method IN ('CARD', 'CASH', 'CHECK', 'BANK_TRANSFER', 'OTHER')", name="payments_method"
        ),
        sa.CheckConstraint(
            "status IN ('SUCCEEDED', 'PARTIALLY_REFUNDED', 'REFUNDED', 'FAILED')",
            name="payments_status",
        ),
        sa.CheckConstraint(
            "amount_cents > 0 AND refunded_cents >= 0 AND refunded_cents <= amount_cents",
            name="payments_amounts",
        ),
        sa.ForeignKeyConstraint(
            ["recorded_by_staff_id"], ["staff_members.id"], ondelete="SET NULL"
        ),
        sa.UniqueConstraint("stripe_payment_intent_id"),
        *_invoice_child_constraints(),
    )
    op.create_index(op.f("ix_payments_business_id"), "payments", ["business_id"], unique=False)
    op.create_index(
        "payments_invoice_paid", "payments", ["invoice_id", "paid_at", "id"], unique=False
    )

    op.create_table(
        "invoice_counters",
        sa.Column("business_id", sa.Uuid(), nullable=False),
        sa.Column("last_number", sa.Integer(), server_default="0", nullable=False),
        sa.ForeignKeyConstraint(["business_id"], ["businesses.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("business_id"),
    )

    op.create_table(
        "stripe_events",
        sa.Column("id", _string(255), nullable=False),
        sa.Column("type", _string(100), nullable=False),
        sa.Column("account", _string(255), nullable=True),
        sa.Column(
            "processed_at", sa.DateTime(timezone=True), server_default=_now(), nullable=False
        ),
        sa.PrimaryKeyConstraint("id"),
    )

    # A customer reads their own invoices once sent, the lines of those, and their payments;
    # only staff (and the server for a business, from Stripe's webhooks) write them.
    rls.tenant_table("invoices", customer_column="customer_id", customer_flag="visible_to_customer")
    rls.tenant_table(
        "invoice_line_items", customer_column="customer_id", customer_flag="visible_to_customer"
    )
    rls.tenant_table("payments", customer_column="customer_id")
    rls.tenant_table("invoice_counters", customer_column=None, staff_only=True)
    # Paying online: the customer keeps their open invoice's current PaymentIntent id.
    rls.customer_update(
        "invoices",
        customer_column="customer_id",
        state="status = 'OPEN'",
        # A generated column reads as NULL in a BEFORE trigger, so the column check must
        # let it be; nobody can write one anyway.
        columns=["stripe_payment_intent_id", "visible_to_customer"],
    )
    # Event ids and types only, across businesses: no tenant data, so no row rule.
    op.execute(f"GRANT SELECT, INSERT ON stripe_events TO {rls.APP_ROLE}")
    # A webhook names a connected account before anyone is known: which business is it?
    rls.definer_function(
        "business_for_stripe_account(p_account text)",
        "uuid",
        "SELECT id FROM businesses WHERE stripe_account_id = p_account",
    )


def downgrade() -> None:
    op.execute("DROP FUNCTION IF EXISTS business_for_stripe_account(text)")
    op.execute("DROP FUNCTION IF EXISTS invoices_customer_columns() CASCADE")
    op.drop_table("stripe_events")
    op.drop_table("invoice_counters")
    op.drop_table("payments")
    op.drop_table("invoice_line_items")
    op.drop_table("invoices")
    op.drop_constraint("businesses_stripe_account_id_key", "businesses", type_="unique")
    for column in ("stripe_account_synced_at", "charges_enabled", "stripe_account_id", "time_zone"):
        op.drop_column("businesses", column)
