"""Appointments: schedule, change, cancel, and list upcoming or past."""

from __future__ import annotations

import enum
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import ColumnElement, Row, Select, func, insert

from auth import scopes
from auth.principal import Principal
from errors import BadInput, Conflict, NotFound
from models import AppointmentStatus
from models.columns import utcnow
from resolvers import global_ids, inputs, lists, loaders, nodes
from resolvers.pagination import (
    Ordering,
    Page,
    PageArgs,
    page_args,
)
from resolvers.updates import update_row

if TYPE_CHECKING:
    from resolvers.context import RequestContext

appointments = scopes.appointments


class AppointmentRange(enum.Enum):
    UPCOMING = "UPCOMING"
    PAST = "PAST"


ORDER = {
    AppointmentRange.UPCOMING: Ordering((("starts_at", False), ("id", False))),
    AppointmentRange.PAST: Ordering((("starts_at", True), ("id", True))),
}


_STATUSES = {status.value: status for status in AppointmentStatus}


def effective_status(status: str, ends_at: datetime) -> AppointmentStatus:
    """What an appointment reads as: a scheduled one that has ended is COMPLETED (there is
    no mutation for it). Both read paths write the status through this (the compiled one
    once per row, hence the plain lookups)."""
    if status == "SCHEDULED" and ends_at <= utcnow():
        return AppointmentStatus.COMPLETED
    return _STATUSES[status]


def in_range(columns, when: AppointmentRange) -> ColumnElement[bool]:
    # Upcoming until it has ended, so one in progress still shows as upcoming.
    if when is AppointmentRange.UPCOMING:
        return columns.ends_at > func.now()
    return columns.ends_at <= func.now()


def range_of(value: object) -> AppointmentRange:
    """The range argument as given (null means upcoming)."""
    return AppointmentRange(value) if value is not None else AppointmentRange.UPCOMING


def in_range_visible_to(viewer: Principal | None, when: AppointmentRange) -> Select:
    """A viewer's appointments in `when`: every list of appointments starts here."""
    query = scopes.appointments_visible_to(viewer)
    return query.where(in_range(query.selected_columns, when))


def args_for(when: AppointmentRange, first: int | None, after: str | None) -> PageArgs:
    return page_args(first, after, ORDER[when], appointments.c)


loaders.register("appointment", loaders.by_id(scopes.appointments_visible_to))
loaders.register(
    "appointments_by_customer",
    lists.pages_by(in_range_visible_to, "customer_id", lambda when: ORDER[when]),
)
loaders.register(
    "appointment_count_by_customer", lists.counts_by(in_range_visible_to, "customer_id")
)
nodes.register("Appointment", "appointment")


def listing(ctx: RequestContext, *, when: AppointmentRange, customer_id: str | None) -> Select:
    """The root list: the viewer's appointments in `when`, of one customer if named."""
    query = in_range_visible_to(ctx.viewer(), when)
    if customer_id is not None:
        key = global_ids.decode(customer_id, "Customer", field="customer_id")
        query = query.where(appointments.c.customer_id == key)
    return query


async def list_appointments(
    ctx: RequestContext,
    *,
    when: AppointmentRange,
    customer_id: str | None,
    first: int | None,
    after: str | None,
) -> tuple[Page, Callable[[], Awaitable[int]]]:
    query = listing(ctx, when=when, customer_id=customer_id)
    return await lists.root_page(ctx, query, ORDER[when], first, after)


DETAILS = {
    "title": inputs.a_text(max_length=200, label="title"),
    "starts_at": inputs.a_moment(required=True),
    "ends_at": inputs.a_moment(required=True),
    "location": inputs.an_optional_text(max_length=500, label="location"),
    "details": inputs.an_optional_text(max_length=5000, label="details", multiline=True),
}


def _details(changes: dict[str, object]) -> dict[str, object]:
    """The checked values of the fields present in `changes` (all of them when scheduling)."""
    return inputs.checked(changes, DETAILS)


def _check_times(starts_at: datetime, ends_at: datetime) -> None:
    if starts_at >= ends_at:
        raise BadInput("The appointment must end after it starts.", field="ends_at")


async def schedule(
    ctx: RequestContext,
    *,
    customer_id: str,
    title: str,
    starts_at: datetime,
    ends_at: datetime,
    location: str | None,
    details: str | None,
    job_id: str | None = None,
) -> Row:
    viewer = ctx.staff()
    customer_key = global_ids.decode(customer_id, "Customer", field="customer_id")
    values = _details(
        {
            "title": title,
            "starts_at": starts_at,
            "ends_at": ends_at,
            "location": location,
            "details": details,
        }
    )
    _check_times(values["starts_at"], values["ends_at"])
    if await ctx.loaders.customer.load(customer_key) is None:
        raise NotFound("Customer")
    if job_id is not None:
        values["job_id"] = await _job_of(ctx, job_id, customer_key)
    async with ctx.unit_of_work():
        row = await ctx.tx.first(
            insert(appointments)
            .values(
                id=uuid.uuid4(),
                business_id=viewer.business_id,
                customer_id=customer_key,
                status=AppointmentStatus.SCHEDULED,
                **values,
            )
            .returning(appointments)
        )
    return row


async def _job_of(ctx: RequestContext, job_id: str, customer_key: uuid.UUID) -> uuid.UUID:
    """The id of a job the viewer may see, of this appointment's customer."""
    key = global_ids.decode(job_id, "Job", field="job_id")
    job = await ctx.loaders.job.load(key)
    if job is None:
        raise NotFound("Job")
    if job.customer_id != customer_key:
        raise BadInput("This job is for another customer.", field="job_id")
    return key


async def _own(ctx: RequestContext, appointment_id: str) -> Row:
    ctx.staff()
    key = global_ids.decode(appointment_id, "Appointment", field="id")
    row = await ctx.loaders.appointment.load(key)
    if row is None:
        raise NotFound("Appointment")
    return row


async def _save(ctx: RequestContext, row: Row, values: dict) -> Row:
    async with ctx.unit_of_work():
        updated = await update_row(
            ctx,
            appointments,
            row.id,
            writable=scopes.appointments_writable_by(ctx.principal),
            values=values,
            columns=appointments.c,
            loader="appointment",
            what="Appointment",
        )
    return updated


async def change(ctx: RequestContext, appointment_id: str, changes: dict[str, object]) -> Row:
    row = await _own(ctx, appointment_id)
    if row.status == AppointmentStatus.CANCELLED:
        raise Conflict("A cancelled appointment cannot be changed.")
    values = _details(changes)
    _check_times(values.get("starts_at", row.starts_at), values.get("ends_at", row.ends_at))
    if "job_id" in changes:
        job_id = changes["job_id"]
        values["job_id"] = None if job_id is None else await _job_of(ctx, job_id, row.customer_id)  # type: ignore[arg-type]
    if not values:
        return row
    return await _save(ctx, row, values)


async def cancel(ctx: RequestContext, appointment_id: str) -> Row:
    row = await _own(ctx, appointment_id)
    if row.status == AppointmentStatus.CANCELLED:
        raise Conflict("This appointment is already cancelled.")
    if row.ends_at <= utcnow():
        raise Conflict("This appointment has already taken place.")
    return await _save(ctx, row, {"status": AppointmentStatus.CANCELLED})
