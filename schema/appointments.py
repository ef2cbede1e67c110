"""Appointments on the calendar."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import strawberry
from sqlalchemy import Row
from strawberry.types import Info

import readpath
from auth import scopes
from models import AppointmentStatus as AppointmentStatusValues
from resolvers import appointments, global_ids
from resolvers.appointments import AppointmentRange as RangeValues
from resolvers.context import RequestContext
from resolvers.pagination import Ordering
from schema.customers import Customer, changes_of
from schema.relay import Connection, Node, node_type

if TYPE_CHECKING:
    from schema.jobs import Job

JobType = Annotated["Job", strawberry.lazy("schema.jobs")]

AppointmentStatus = strawberry.enum(AppointmentStatusValues, name="AppointmentStatus")
AppointmentRange = strawberry.enum(
    RangeValues,
    name="AppointmentRange",
    description="UPCOMING: not yet ended, soonest first. PAST: ended, newest first.",
)


@node_type
@strawberry.type
class Appointment(Node):
    title: str
    starts_at: datetime
    ends_at: datetime
    location: str | None
    details: str | None
    status: AppointmentStatus = strawberry.field(
        description="COMPLETED once a scheduled appointment has ended."
    )
    customer_key: strawberry.Private[uuid.UUID]
    job_key: strawberry.Private[uuid.UUID | None] = None

    @classmethod
    def from_row(cls, row: Row) -> Appointment:
        return cls(
            id=global_ids.encode("Appointment", row.id),
            title=row.title,
            starts_at=row.starts_at,
            ends_at=row.ends_at,
            location=row.location,
            details=row.details,
            status=appointments.effective_status(row.status, row.ends_at),
            customer_key=row.customer_id,
            job_key=row.job_id,
        )

    @strawberry.field
    async def customer(self, info: Info[RequestContext, None]) -> Customer:
        return Customer.from_row(await info.context.loaders.customer.load(self.customer_key))

    @strawberry.field(description="The job this visit is for, if any.")
    async def job(self, info: Info[RequestContext, None]) -> JobType | None:
        from schema.jobs import Job

        if self.job_key is None:
            return None
        row = await info.context.loaders.job.load(self.job_key)
        return None if row is None else Job.from_row(row)


readpath.declare(
    "Appointment",
    scopes.appointments_visible_to,
    id=readpath.Computed(("id",), global_ids.encoder("Appointment")),
    title=readpath.Column("title"),
    startsAt=readpath.Column("starts_at"),
    endsAt=readpath.Column("ends_at"),
    location=readpath.Column("location"),
    details=readpath.Column("details"),
    status=readpath.Computed(("status", "ends_at"), appointments.effective_status),
    customer=readpath.Related("Customer", "customer_id"),
    job=readpath.Related("Job", "job_id"),
)


def order_of(arguments: dict) -> Ordering:
    """The order of a list of appointments with these GraphQL arguments (`range`)."""
    return appointments.ORDER[appointments.range_of(arguments.get("range"))]


@strawberry.input
class ScheduleAppointmentInput:
    customer_id: strawberry.ID
    title: str
    starts_at: datetime
    ends_at: datetime
    location: str | None = None
    details: str | None = None
    job_id: strawberry.ID | None = strawberry.field(
        default=None, description="A job of the same customer that this visit is for."
    )


@strawberry.input
class UpdateAppointmentInput:
    id: strawberry.ID
    title: str | None = strawberry.UNSET
    starts_at: datetime | None = strawberry.UNSET
    ends_at: datetime | None = strawberry.UNSET
    location: str | None = strawberry.UNSET
    details: str | None = strawberry.UNSET
    job_id: strawberry.ID | None = strawberry.field(
        default=strawberry.UNSET, description="A job of the same customer; null unlinks it."
    )


@strawberry.type
class AppointmentQueries:
    @strawberry.field(description="A customer gets their own; staff get the business's.")
    async def appointments(
        self,
        info: Info[RequestContext, None],
        range: AppointmentRange | None = RangeValues.UPCOMING,
        customer_id: strawberry.ID | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[Appointment]:
        page, count = await appointments.list_appointments(
            info.context,
            when=range or RangeValues.UPCOMING,
            customer_id=customer_id,
            first=first,
            after=after,
        )
        return Connection.of(page, Appointment.from_row, count)


readpath.root(
    appointments=readpath.Connection(
        "Appointment",
        source=lambda ctx, a: appointments.listing(
            ctx, when=appointments.range_of(a.get("range")), customer_id=a.get("customerId")
        ),
        ordering=order_of,
    )
)


@strawberry.type
class AppointmentMutations:
    @strawberry.mutation
    async def schedule_appointment(
        self, info: Info[RequestContext, None], input: ScheduleAppointmentInput
    ) -> Appointment:
        row = await appointments.schedule(
            info.context,
            customer_id=input.customer_id,
            title=input.title,
            starts_at=input.starts_at,
            ends_at=input.ends_at,
            location=input.location,
            details=input.details,
            job_id=input.job_id,
        )
        return Appointment.from_row(row)

    @strawberry.mutation
    async def update_appointment(
        self, info: Info[RequestContext, None], input: UpdateAppointmentInput
    ) -> Appointment:
        row = await appointments.change(info.context, input.id, changes_of(input))
        return Appointment.from_row(row)

    @strawberry.mutation
    async def cancel_appointment(
        self,
        info: Info[RequestContext, None],
        id: strawberry.ID,
    ) -> Appointment:
        return Appointment.from_row(await appointments.cancel(info.context, id))
