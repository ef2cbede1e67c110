"""Jobs: their status history, and notes (internal, or shared with the customer)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import strawberry
from sqlalchemy import Row
from strawberry.types import Info

import readpath
from auth import scopes
from models import JobStatus as JobStatusValues
from resolvers import global_ids, jobs, photos
from resolvers.context import RequestContext
from schema.customers import Customer, changes_of
from schema.relay import Connection, Node, node_type

if TYPE_CHECKING:
    from schema.contracts import Contract, ContractStatus
    from schema.invoices import Invoice, InvoiceStatus
    from schema.photos import Photo

PhotoType = Annotated["Photo", strawberry.lazy("schema.photos")]
InvoiceType = Annotated["Invoice", strawberry.lazy("schema.invoices")]
InvoiceStatusType = Annotated["InvoiceStatus", strawberry.lazy("schema.invoices")]
ContractType = Annotated["Contract", strawberry.lazy("schema.contracts")]
ContractStatusType = Annotated["ContractStatus", strawberry.lazy("schema.contracts")]
JobStatus = strawberry.enum(JobStatusValues, name="JobStatus")


@node_type
@strawberry.type
class Job(Node):
    title: str
    description: str | None
    status: JobStatus
    scheduled_start: datetime | None
    scheduled_end: datetime | None
    completed_at: datetime | None = strawberry.field(
        description="When the job was completed; null until then, and again once reopened."
    )
    key: strawberry.Private[uuid.UUID]
    customer_key: strawberry.Private[uuid.UUID]

    @classmethod
    def from_row(cls, row: Row) -> Job:
        return cls(
            id=global_ids.encode("Job", row.id),
            title=row.title,
            description=row.description,
            status=JobStatusValues(row.status),
            scheduled_start=row.scheduled_start,
            scheduled_end=row.scheduled_end,
            completed_at=row.completed_at,
            key=row.id,
            customer_key=row.customer_id,
        )

    @strawberry.field
    async def customer(self, info: Info[RequestContext, None]) -> Customer:
        return Customer.from_row(await info.context.loaders.customer.load(self.customer_key))

    @strawberry.field(description="Every status the job has had, oldest first.")
    async def status_history(self, info: Info[RequestContext, None]) -> list[JobStatusChange]:
        rows = await info.context.loaders.status_changes_by_job.load(self.key)
        return [JobStatusChange.from_row(row) for row in rows]

    @strawberry.field(description="Oldest first. A customer gets only the notes shared with them.")
    async def notes(self, info: Info[RequestContext, None]) -> list[JobNote]:
        rows = await info.context.loaders.notes_by_job.load(self.key)
        return [JobNote.from_row(row) for row in rows]

    @strawberry.field(description="Newest first, by when each was taken.")
    async def photos(
        self,
        info: Info[RequestContext, None],
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[PhotoType]:
        from schema.photos import Photo

        loaders = info.context.loaders
        page = await loaders.photos_by_job.load((self.key, None, photos.args_for(first, after)))

        async def count() -> int:
            return await loaders.photo_count_by_job.load((self.key, None))

        return Connection.of(page, Photo.from_row, count)

    @strawberry.field(description="Newest first; a customer never sees a draft.")
    async def invoices(
        self,
        info: Info[RequestContext, None],
        status: list[InvoiceStatusType] | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[InvoiceType]:
        from schema.invoices import nested_invoices

        return await nested_invoices(info, "job", self.key, status, first, after)

    @strawberry.field(description="Newest first; a customer never sees a draft.")
    async def contracts(
        self,
        info: Info[RequestContext, None],
        status: list[ContractStatusType] | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[ContractType]:
        from schema.contracts import contracts_of

        return await contracts_of(info, "job", self.key, status, first, after)


@strawberry.type
class JobStatusChange:
    status: JobStatus
    message: str | None = strawberry.field(description="What the business told the customer.")
    changed_at: datetime
    job_key: strawberry.Private[uuid.UUID]

    @classmethod
    def from_row(cls, row: Row) -> JobStatusChange:
        return cls(
            status=JobStatusValues(row.status),
            message=row.message,
            changed_at=row.changed_at,
            job_key=row.job_id,
        )

    @strawberry.field
    async def job(self, info: Info[RequestContext, None]) -> Job:
        return Job.from_row(await info.context.loaders.job.load(self.job_key))


@node_type
@strawberry.type
class JobNote(Node):
    body: str
    visible_to_customer: bool
    created_at: datetime

    @classmethod
    def from_row(cls, row: Row) -> JobNote:
        return cls(
            id=global_ids.encode("JobNote", row.id),
            body=row.body,
            visible_to_customer=row.visible_to_customer,
            created_at=row.created_at,
        )


readpath.declare(
    "Job",
    scopes.jobs_visible_to,
    id=readpath.Computed(("id",), global_ids.encoder("Job")),
    title=readpath.Column("title"),
    description=readpath.Column("description"),
    status=readpath.Column("status"),
    scheduledStart=readpath.Column("scheduled_start"),
    scheduledEnd=readpath.Column("scheduled_end"),
    completedAt=readpath.Column("completed_at"),
    customer=readpath.Related("Customer", "customer_id"),
    statusHistory=readpath.Rows(
        "JobStatusChange",
        source=lambda ctx, a: scopes.job_status_changes_visible_to(ctx.principal),
        ordering=lambda a: jobs.HISTORY_ORDER,
        parent=("job_id", "id"),
    ),
    # The scope shares only visible notes with a customer, so this is right for every viewer.
    notes=readpath.Rows(
        "JobNote",
        source=lambda ctx, a: scopes.job_notes_visible_to(ctx.principal),
        ordering=lambda a: jobs.NOTES_ORDER,
        parent=("job_id", "id"),
    ),
    photos=readpath.Connection(
        "Photo",
        source=lambda ctx, a: scopes.photos_visible_to(ctx.principal),
        ordering=lambda a: photos.ORDER,
        parent=("job_id", "id"),
    ),
)
readpath.declare(
    "JobStatusChange",
    scopes.job_status_changes_visible_to,
    status=readpath.Column("status"),
    message=readpath.Column("message"),
    changedAt=readpath.Column("changed_at"),
    job=readpath.Related("Job", "job_id"),
)
readpath.declare(
    "JobNote",
    scopes.job_notes_visible_to,
    id=readpath.Computed(("id",), global_ids.encoder("JobNote")),
    body=readpath.Column("body"),
    visibleToCustomer=readpath.Column("visible_to_customer"),
    createdAt=readpath.Column("created_at"),
)


# Customer.jobs (schema/customers.py holds the field; its SQL is declared here with the rest).
readpath.declare(
    "Customer",
    scopes.customers_visible_to,
    jobs=readpath.Connection(
        "Job",
        source=lambda ctx, a: jobs.filtered_visible_to(
            ctx.principal, jobs.statuses_of(a.get("status"))
        ),
        ordering=lambda a: jobs.ORDER,
        parent=("customer_id", "id"),
    ),
)


async def customer_jobs(
    info: Info[RequestContext, None],
    customer_key: uuid.UUID,
    status: list[JobStatusValues] | None,
    first: int | None,
    after: str | None,
) -> Connection[Job]:
    """Customer.jobs for the executed path: each customer's page through one loader."""
    loaders = info.context.loaders
    statuses = jobs.statuses_of(status)
    page = await loaders.jobs_by_customer.load(
        (customer_key, statuses, jobs.args_for(first, after))
    )

    async def count() -> int:
        return await loaders.job_count_by_customer.load((customer_key, statuses))

    return Connection.of(page, Job.from_row, count)


@strawberry.input
class CreateJobInput:
    customer_id: strawberry.ID
    title: str
    description: str | None = strawberry.UNSET
    scheduled_start: datetime | None = strawberry.UNSET
    scheduled_end: datetime | None = strawberry.UNSET


@strawberry.input
class UpdateJobInput:
    id: strawberry.ID
    title: str | None = strawberry.UNSET
    description: str | None = strawberry.UNSET
    scheduled_start: datetime | None = strawberry.UNSET
    scheduled_end: datetime | None = strawberry.UNSET


@strawberry.input
class SetJobStatusInput:
    job_id: strawberry.ID
    status: JobStatus
    message: str | None = strawberry.field(
        default=None, description="Shown to the customer with the change."
    )


@strawberry.input
class AddJobNoteInput:
    job_id: strawberry.ID
    body: str
    visible_to_customer: bool | None = strawberry.field(
        default=False, description="Internal unless true."
    )


@strawberry.type
class JobQueries:
    @strawberry.field(
        description="A customer gets their own; staff get the business's. Active jobs first "
        "(by scheduled start), then completed and cancelled ones, newest first."
    )
    async def jobs(
        self,
        info: Info[RequestContext, None],
        status: list[JobStatus] | None = None,
        customer_id: strawberry.ID | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[Job]:
        page, count = await jobs.list_jobs(
            info.context,
            statuses=jobs.statuses_of(status),
            customer_id=customer_id,
            first=first,
            after=after,
        )
        return Connection.of(page, Job.from_row, count)


readpath.root(
    jobs=readpath.Connection(
        "Job",
        source=lambda ctx, a: jobs.listing(
            ctx, statuses=jobs.statuses_of(a.get("status")), customer_id=a.get("customerId")
        ),
        ordering=lambda a: jobs.ORDER,
    )
)


@strawberry.type
class JobMutations:
    @strawberry.mutation
    async def create_job(self, info: Info[RequestContext, None], input: CreateJobInput) -> Job:
        changes = changes_of(input)
        customer_id = changes.pop("customer_id")
        return Job.from_row(await jobs.create(info.context, customer_id, changes))  # type: ignore[arg-type]

    @strawberry.mutation
    async def update_job(self, info: Info[RequestContext, None], input: UpdateJobInput) -> Job:
        return Job.from_row(await jobs.change(info.context, input.id, changes_of(input)))

    @strawberry.mutation
    async def set_job_status(
        self, info: Info[RequestContext, None], input: SetJobStatusInput
    ) -> Job:
        row = await jobs.set_status(
            info.context, input.job_id, JobStatusValues(input.status), input.message
        )
        return Job.from_row(row)

    @strawberry.mutation
    async def add_job_note(
        self, info: Info[RequestContext, None], input: AddJobNoteInput
    ) -> JobNote:
        row = await jobs.add_note(info.context, input.job_id, input.body, input.visible_to_customer)
        return JobNote.from_row(row)
