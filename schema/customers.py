"""Customers and their portal status."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import strawberry
from sqlalchemy import Row
from strawberry.types import Info

import readpath
from auth import scopes
from models import PortalStatus as PortalStatusValues
from resolvers import appointments, customers, global_ids
from resolvers.appointments import AppointmentRange as Range
from resolvers.appointments import args_for
from resolvers.context import RequestContext
from schema.relay import Connection, Node, node_type

if TYPE_CHECKING:
    from schema.appointments import Appointment, AppointmentRange
    from schema.contracts import Contract, ContractStatus
    from schema.invoices import Invoice, InvoiceStatus
    from schema.jobs import Job, JobStatus

AppointmentType = Annotated["Appointment", strawberry.lazy("schema.appointments")]
AppointmentRangeType = Annotated["AppointmentRange", strawberry.lazy("schema.appointments")]
JobType = Annotated["Job", strawberry.lazy("schema.jobs")]
ContractType = Annotated["Contract", strawberry.lazy("schema.contracts")]
ContractStatusType = Annotated["ContractStatus", strawberry.lazy("schema.contracts")]
JobStatusType = Annotated["JobStatus", strawberry.lazy("schema.jobs")]
InvoiceType = Annotated["Invoice", strawberry.lazy("schema.invoices")]
InvoiceStatusType = Annotated["InvoiceStatus", strawberry.lazy("schema.invoices")]
PortalStatus = strawberry.enum(PortalStatusValues, name="PortalStatus")


@node_type
@strawberry.type
class Customer(Node):
    name: str
    email: str | None
    phone: str | None
    address: str | None = strawberry.field(description="Postal address, as the business wrote it.")
    portal_status: PortalStatus
    created_at: datetime
    key: strawberry.Private[uuid.UUID]

    @classmethod
    def from_row(cls, row: Row) -> Customer:
        return cls(
            id=global_ids.encode("Customer", row.id),
            name=row.name,
            email=row.email,
            phone=row.phone,
            address=row.address,
            portal_status=PortalStatusValues(row.portal_status),
            created_at=row.created_at,
            key=row.id,
        )

    @strawberry.field
    async def appointments(
        self,
        info: Info[RequestContext, None],
        range: AppointmentRangeType | None = Range.UPCOMING,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[AppointmentType]:
        from schema.appointments import Appointment

        loaders = info.context.loaders
        range = range or Range.UPCOMING
        args = args_for(range, first, after)
        page = await loaders.appointments_by_customer.load((self.key, range, args))

        async def count() -> int:
            return await loaders.appointment_count_by_customer.load((self.key, range))

        return Connection.of(page, Appointment.from_row, count)

    @strawberry.field(description="As the root `jobs`: active first, then closed, newest first.")
    async def jobs(
        self,
        info: Info[RequestContext, None],
        status: list[JobStatusType] | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[JobType]:
        from schema.jobs import customer_jobs

        return await customer_jobs(info, self.key, status, first, after)

    @strawberry.field(description="As the root `invoices`: newest first, no drafts for customers.")
    async def invoices(
        self,
        info: Info[RequestContext, None],
        status: list[InvoiceStatusType] | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[InvoiceType]:
        from schema.invoices import nested_invoices

        return await nested_invoices(info, "customer", self.key, status, first, after)

    @strawberry.field(description="As the root `contracts`: newest first, no drafts for customers.")
    async def contracts(
        self,
        info: Info[RequestContext, None],
        status: list[ContractStatusType] | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[ContractType]:
        from schema.contracts import contracts_of

        return await contracts_of(info, "customer", self.key, status, first, after)


readpath.declare(
    "Customer",
    scopes.customers_visible_to,
    id=readpath.Computed(("id",), global_ids.encoder("Customer")),
    name=readpath.Column("name"),
    email=readpath.Column("email"),
    phone=readpath.Column("phone"),
    address=readpath.Column("address"),
    portalStatus=readpath.Column("portal_status"),
    createdAt=readpath.Column("created_at"),
    appointments=readpath.Connection(
        "Appointment",
        source=lambda ctx, a: appointments.in_range_visible_to(
            ctx.principal, appointments.range_of(a.get("range"))
        ),
        ordering=lambda a: appointments.ORDER[appointments.range_of(a.get("range"))],
        parent=("customer_id", "id"),
    ),
)


def changes_of(input: object) -> dict[str, object]:
    """The fields a client actually sent (absent ≠ null), in snake_case."""
    return {
        name: value
        for name, value in vars(input).items()
        if value is not strawberry.UNSET and name != "id"
    }


@strawberry.input
class CreateCustomerInput:
    name: str
    email: str | None = strawberry.UNSET
    phone: str | None = strawberry.UNSET
    address: str | None = strawberry.UNSET


@strawberry.input
class UpdateCustomerInput:
    id: strawberry.ID
    name: str | None = strawberry.UNSET
    email: str | None = strawberry.UNSET
    phone: str | None = strawberry.UNSET
    address: str | None = strawberry.UNSET


@strawberry.type
class CustomerQueries:
    @strawberry.field(description="The business's customers, by name (staff only).")
    async def customers(
        self,
        info: Info[RequestContext, None],
        search: str | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[Customer]:
        page, count = await customers.list_customers(
            info.context, search=search, first=first, after=after
        )
        return Connection.of(page, Customer.from_row, count)


readpath.root(
    customers=readpath.Connection(
        "Customer",
        source=lambda ctx, a: customers.listing(ctx, search=a.get("search")),
        ordering=lambda a: customers.ORDER,
    )
)


@strawberry.type
class CustomerMutations:
    @strawberry.mutation
    async def create_customer(
        self, info: Info[RequestContext, None], input: CreateCustomerInput
    ) -> Customer:
        return Customer.from_row(await customers.create(info.context, changes_of(input)))

    @strawberry.mutation
    async def update_customer(
        self, info: Info[RequestContext, None], input: UpdateCustomerInput
    ) -> Customer:
        row = await customers.change(info.context, input.id, changes_of(input))
        return Customer.from_row(row)
