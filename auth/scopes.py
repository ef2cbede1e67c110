"""The only home of row rules: what a viewer may read, as query builders.

Every read starts here. A builder returns a SELECT already narrowed to the viewer's business
and, for a customer, to that customer; callers add their own filters on top. With no viewer
the builders select nothing. PostgreSQL's row-level security enforces the same rules again
underneath (migrations/rls.py), so a filter forgotten here still leaks nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Select, Table, Update, false, select, update

from auth.principal import Principal
from models import (
    Appointment,
    AuthSession,
    Business,
    Contract,
    Customer,
    Invoice,
    InvoiceCounter,
    InvoiceLineItem,
    Job,
    JobNote,
    JobStatusChange,
    Message,
    Payment,
    Photo,
    PortalToken,
    StaffInvitation,
    StaffMember,
    StaffToken,
)

businesses: Table = Business.__table__  # type: ignore[assignment]
staff_members: Table = StaffMember.__table__  # type: ignore[assignment]
staff_invitations: Table = StaffInvitation.__table__  # type: ignore[assignment]
customers: Table = Customer.__table__  # type: ignore[assignment]
appointments: Table = Appointment.__table__  # type: ignore[assignment]
sessions: Table = AuthSession.__table__  # type: ignore[assignment]
portal_tokens: Table = PortalToken.__table__  # type: ignore[assignment]
staff_tokens: Table = StaffToken.__table__  # type: ignore[assignment]
jobs: Table = Job.__table__  # type: ignore[assignment]
job_status_changes: Table = JobStatusChange.__table__  # type: ignore[assignment]
job_notes: Table = JobNote.__table__  # type: ignore[assignment]
photos: Table = Photo.__table__  # type: ignore[assignment]
contracts: Table = Contract.__table__  # type: ignore[assignment]
invoices: Table = Invoice.__table__  # type: ignore[assignment]
invoice_line_items: Table = InvoiceLineItem.__table__  # type: ignore[assignment]
payments: Table = Payment.__table__  # type: ignore[assignment]
invoice_counters: Table = InvoiceCounter.__table__  # type: ignore[assignment]

# What reads return of each table: everything but secrets. Password hashes are read only by
# the sign-in functions (migrations/), so no row a resolver holds can carry one.
_SECRET = {"password_hash", "token_hash"}


def readable(table: Table) -> list:
    return [column for column in table.c if column.name not in _SECRET]


customer_columns = readable(customers)
staff_columns = readable(staff_members)


def _tenant(
    table: Table,
    viewer: Principal | None,
    customer_column: str | None,
    *,
    customer_flag: str | None = None,
) -> Select:
    """The viewer's business's rows of `table`; for a customer, only their own (those whose
    `customer_column` is theirs) and, with `customer_flag`, only those the flag column
    shares with them (a job note the business chose to share, say). The same rule as
    `migrations/rls.py`'s `tenant_table(customer_column=…, customer_flag=…)`."""
    query = select(*readable(table))
    if viewer is None:
        return query.where(false())
    key = table.c.id if table is businesses else table.c.business_id
    query = query.where(key == viewer.business_id)
    if viewer.is_customer:
        if customer_column is None:
            return query.where(false())
        query = query.where(table.c[customer_column] == viewer.customer_id)
        if customer_flag is not None:
            query = query.where(table.c[customer_flag].is_(True))
    return query


def businesses_visible_to(viewer: Principal | None) -> Select:
    query = select(businesses)
    if viewer is None:
        return query.where(false())
    return query.where(businesses.c.id == viewer.business_id)


def staff_visible_to(viewer: Principal | None) -> Select:
    # Customers see the team they talk to (names on messages); rows carry no secrets out,
    # because the schema exposes only name, email and role.
    query = select(*staff_columns)
    if viewer is None:
        return query.where(false())
    return query.where(staff_members.c.business_id == viewer.business_id)


def staff_invitations_visible_to(viewer: Principal | None) -> Select:
    return _tenant(staff_invitations, viewer, customer_column=None)


def customers_visible_to(viewer: Principal | None) -> Select:
    return _tenant(customers, viewer, customer_column="id")


def appointments_visible_to(viewer: Principal | None) -> Select:
    return _tenant(appointments, viewer, customer_column="customer_id")


def appointments_writable_by(viewer: Principal | None) -> ColumnElement[bool]:
    return _writable(appointments, viewer)


# Jobs and what hangs off them carry the job's customer_id, so a customer's rule is a
# column rule on each table (migration 0004 writes the same policies).
def jobs_visible_to(viewer: Principal | None) -> Select:
    return _tenant(jobs, viewer, customer_column="customer_id")


def job_status_changes_visible_to(viewer: Principal | None) -> Select:
    return _tenant(job_status_changes, viewer, customer_column="customer_id")


def job_notes_visible_to(viewer: Principal | None) -> Select:
    # A customer reads only the notes the business shared with them: every path to a note
    # (a list, node(id:), Job.notes, the compiled read path) starts here.
    return _tenant(
        job_notes, viewer, customer_column="customer_id", customer_flag="visible_to_customer"
    )


def photos_visible_to(viewer: Principal | None) -> Select:
    return _tenant(photos, viewer, customer_column="customer_id")


def jobs_writable_by(viewer: Principal | None) -> ColumnElement[bool]:
    return _writable(jobs, viewer)


def job_status_changes_writable_by(viewer: Principal | None) -> ColumnElement[bool]:
    return _writable(job_status_changes, viewer)


def job_notes_writable_by(viewer: Principal | None) -> ColumnElement[bool]:
    return _writable(job_notes, viewer)


def photos_writable_by(viewer: Principal | None) -> ColumnElement[bool]:
    return _writable(photos, viewer)


# Emailed tokens: the server reads them for the business (Principal.system) while it
# redeems one; no customer reads them. Their hashes stay out of the rows (`readable`): a
# caller that needs a token by its hash filters on `table.c.token_hash`.
def portal_tokens_visible_to(viewer: Principal | None) -> Select:
    return _tenant(portal_tokens, viewer, customer_column=None)


def staff_tokens_visible_to(viewer: Principal | None) -> Select:
    return _tenant(staff_tokens, viewer, customer_column=None)


# Writes: which rows an UPDATE or DELETE may touch, as a WHERE clause. Customers write
# none of these tables themselves: what they change (their own password, say) the server
# writes for them as the business's system principal.
def _writable(table: Table, viewer: Principal | None) -> ColumnElement[bool]:
    if viewer is None or viewer.is_customer:
        return false()
    return table.c.business_id == viewer.business_id


def customers_writable_by(viewer: Principal | None) -> ColumnElement[bool]:
    return _writable(customers, viewer)


def staff_members_writable_by(viewer: Principal | None) -> ColumnElement[bool]:
    return _writable(staff_members, viewer)


def staff_invitations_writable_by(viewer: Principal | None) -> ColumnElement[bool]:
    return _writable(staff_invitations, viewer)


def portal_tokens_writable_by(viewer: Principal | None) -> ColumnElement[bool]:
    return _writable(portal_tokens, viewer)


def staff_tokens_writable_by(viewer: Principal | None) -> ColumnElement[bool]:
    return _writable(staff_tokens, viewer)


@dataclass(frozen=True)
class CustomerWrite:
    """The one kind of write a customer makes to a business's table: to their own row
    (`customer_column`), only while it is in a `state`, and only to `columns` (signing their
    own SENT contract, say). The same rule as `migrations/rls.py`'s `customer_update`."""

    table: Table
    customer_column: str
    state: Callable[[Any], ColumnElement[bool]]
    columns: frozenset[str]

    def update(self, viewer: Principal | None, **values: object) -> Update:
        """UPDATE of the viewer's own rows in the state; refuses any other column."""
        refused = set(values) - self.columns
        if refused:
            raise ValueError(f"a customer may not write {sorted(refused)} of {self.table.name}")
        statement = update(self.table).values(**values)
        if viewer is None or not viewer.is_customer:
            return statement.where(false())
        return statement.where(
            self.table.c.business_id == viewer.business_id,
            self.table.c[self.customer_column] == viewer.customer_id,
            self.state(self.table.c),
        )


# Messages: one thread per customer. A customer reads their own thread and writes only
# their own messages, and marks only the team's read (migration 0007 writes the same).
messages: Table = Message.__table__  # type: ignore[assignment]


def messages_visible_to(viewer: Principal | None) -> Select:
    return _tenant(messages, viewer, customer_column="customer_id")


def messages_writable_by(viewer: Principal | None) -> ColumnElement[bool]:
    return _writable(messages, viewer)


# A customer marking the team's messages read: their own thread's, read_at only.
customer_reads_messages = CustomerWrite(
    table=messages,
    customer_column="customer_id",
    state=lambda columns: columns.from_customer.is_(False),
    columns=frozenset({"read_at"}),
)


# Invoices: a customer reads their own once sent (`visible_to_customer`, generated from
# `issued_at`; set at send on line items), and their payments; migration 0006 writes the same
# policies. An invoice row also carries two of its business's columns, which its derived
# fields need: `time_zone` (isOverdue) and `charges_enabled` (canPayOnline).
def _of_business(table: Table, column: str) -> Any:
    return (
        select(businesses.c[column])
        .where(businesses.c.id == table.c.business_id)
        .scalar_subquery()
        .label(column)
    )


def invoices_visible_to(viewer: Principal | None) -> Select:
    query = _tenant(invoices, viewer, "customer_id", customer_flag="visible_to_customer")
    return query.add_columns(
        _of_business(invoices, "time_zone"), _of_business(invoices, "charges_enabled")
    )


def invoice_line_items_visible_to(viewer: Principal | None) -> Select:
    return _tenant(invoice_line_items, viewer, "customer_id", customer_flag="visible_to_customer")


def payments_visible_to(viewer: Principal | None) -> Select:
    return _tenant(payments, viewer, "customer_id")


def invoices_writable_by(viewer: Principal | None) -> ColumnElement[bool]:
    return _writable(invoices, viewer)


def invoice_line_items_writable_by(viewer: Principal | None) -> ColumnElement[bool]:
    return _writable(invoice_line_items, viewer)


def payments_writable_by(viewer: Principal | None) -> ColumnElement[bool]:
    return _writable(payments, viewer)


def invoice_counters_writable_by(viewer: Principal | None) -> ColumnElement[bool]:
    return _writable(invoice_counters, viewer)


def businesses_writable_by(viewer: Principal | None) -> ColumnElement[bool]:
    """Staff (and the server for a business, from Stripe's webhooks) write their own."""
    if viewer is None or viewer.is_customer:
        return false()
    return businesses.c.id == viewer.business_id


# Paying online, the customer keeps their open invoice's current PaymentIntent id; nothing
# else of an invoice is theirs to write (migration 0006's `customer_update`).
invoice_payment_intents = CustomerWrite(
    table=invoices,
    customer_column="customer_id",
    state=lambda columns: columns.status == "OPEN",
    columns=frozenset({"stripe_payment_intent_id"}),
)


# Contracts: a customer reads their own once sent, never a draft nor a voided draft
# (`visible_to_customer`, generated: sent_at is set), and writes only a signature: their own
# SENT contract, its signature columns (migration 0005: the same policy, a column trigger).
def contracts_visible_to(viewer: Principal | None) -> Select:
    return _tenant(contracts, viewer, "customer_id", customer_flag="visible_to_customer")


def contracts_writable_by(viewer: Principal | None) -> ColumnElement[bool]:
    return _writable(contracts, viewer)


CONTRACT_SIGNING = CustomerWrite(
    contracts,
    "customer_id",
    lambda c: c.status == "SENT",
    frozenset(
        {
            "status",
            "signed_at",
            "signer_name",
            "signer_email",
            "signer_ip",
            "signer_user_agent",
            "signed_sha256",
            "signed_document_key",
            "signed_document_sha256",
        }
    ),
)
