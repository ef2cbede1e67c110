"""Jobs: create and change them, move them through their statuses, and keep notes.

A customer follows their own jobs: status history, scheduled dates and the notes the
business shared (auth/scopes.py decides which; nothing here filters notes).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import Row, func, insert

from auth import scopes
from auth.principal import Principal
from errors import BadInput, Conflict, NotFound
from models import JobStatus
from resolvers import global_ids, inputs, lists, loaders, nodes
from resolvers.pagination import (
    Ordering,
)
from resolvers.updates import update_row

if TYPE_CHECKING:
    from resolvers.context import RequestContext

jobs = scopes.jobs
job_status_changes = scopes.job_status_changes
job_notes = scopes.job_notes

# Active jobs first, by scheduled start (unscheduled last), then completed and cancelled
# ones newest first: the generated columns list_rank and list_key (models/job.py) make it
# one ascending order, which an index serves and a cursor carries.
ORDER = Ordering((("list_rank", False), ("list_key", False), ("id", False)))
HISTORY_ORDER = Ordering((("changed_at", False), ("id", False)))
NOTES_ORDER = Ordering((("created_at", False), ("id", False)))

ACTIVE = frozenset({JobStatus.SCHEDULED, JobStatus.IN_PROGRESS, JobStatus.ON_HOLD})
CLOSED = frozenset({JobStatus.COMPLETED, JobStatus.CANCELLED})


def can_move(current: JobStatus, to: JobStatus) -> bool:
    """Active jobs move freely among the active statuses and may close; a closed job
    (COMPLETED, CANCELLED) only reopens, to IN_PROGRESS."""
    if current in CLOSED:
        return to is JobStatus.IN_PROGRESS
    return True


# -- reads ----------------------------------------------------------------------------------


# Every list of jobs: by status, of one customer if named (resolvers/lists.py).
JOB_LISTS = lists.ByStatus(scopes.jobs_visible_to, JobStatus, jobs, ORDER)
statuses_of = JOB_LISTS.statuses_of
filtered_visible_to = JOB_LISTS.visible_to
listing = JOB_LISTS.listing
args_for = JOB_LISTS.args_for
list_jobs = JOB_LISTS.page


loaders.register("job", loaders.by_id(scopes.jobs_visible_to))
JOB_LISTS.register("job", ["customer_id"])
loaders.register("job_note", loaders.by_id(scopes.job_notes_visible_to))
loaders.register(
    "status_changes_by_job",
    lists.rows_by(scopes.job_status_changes_visible_to, "job_id", HISTORY_ORDER),
)
loaders.register("notes_by_job", lists.rows_by(scopes.job_notes_visible_to, "job_id", NOTES_ORDER))
nodes.register("Job", "job")
nodes.register("JobNote", "job_note")


async def get(ctx: RequestContext, job_id: str, *, field: str = "id") -> Row:
    """A job the viewer may see, or NOT_FOUND."""
    key = global_ids.decode(job_id, "Job", field=field)
    row = await ctx.loaders.job.load(key)
    if row is None:
        raise NotFound("Job")
    return row


# -- writes ---------------------------------------------------------------------------------


DETAILS = {
    "title": inputs.a_text(max_length=200, label="title"),
    "description": inputs.an_optional_text(max_length=5000, label="description", multiline=True),
    "scheduled_start": inputs.a_moment(required=False),
    "scheduled_end": inputs.a_moment(required=False),
}


def _details(changes: dict[str, object]) -> dict[str, object]:
    return inputs.checked(changes, DETAILS)


def _check_schedule(start: datetime | None, end: datetime | None) -> None:
    if start is not None and end is not None and start > end:
        raise BadInput("The job cannot end before it starts.", field="scheduledEnd")


def _history_row(
    viewer: Principal, job: Row, status: str, message: str | None
) -> dict[str, object]:
    return {
        "id": uuid.uuid4(),
        "business_id": job.business_id,
        "customer_id": job.customer_id,
        "job_id": job.id,
        "status": status,
        "message": message,
        # The statement's own clock: several changes in one transaction keep their order.
        "changed_at": func.clock_timestamp(),
        "changed_by_staff_id": viewer.staff_member_id,
    }


async def create(ctx: RequestContext, customer_id: str, changes: dict[str, object]) -> Row:
    viewer = ctx.staff()
    customer_key = global_ids.decode(customer_id, "Customer", field="customerId")
    values = _details({"title": None, **changes})
    _check_schedule(values.get("scheduled_start"), values.get("scheduled_end"))
    if await ctx.loaders.customer.load(customer_key) is None:
        raise NotFound("Customer")
    async with ctx.unit_of_work():
        row = await ctx.tx.first(
            insert(jobs)
            .values(
                id=uuid.uuid4(),
                business_id=viewer.business_id,
                customer_id=customer_key,
                status=JobStatus.SCHEDULED,
                **values,
            )
            .returning(*scopes.readable(jobs))
        )
        assert row is not None
        # The history starts with the status a job is created in.
        await ctx.tx.execute(
            insert(job_status_changes).values(**_history_row(viewer, row, row.status, None))
        )
    return row


async def _own(ctx: RequestContext, job_id: str, field: str = "id") -> Row:
    ctx.staff()
    return await get(ctx, job_id, field=field)


async def _save(ctx: RequestContext, row: Row, values: dict) -> Row:
    return await update_row(
        ctx,
        jobs,
        row.id,
        writable=scopes.jobs_writable_by(ctx.principal),
        values=values,
        columns=scopes.readable(jobs),
        loader="job",
        what="Job",
    )


async def change(ctx: RequestContext, job_id: str, changes: dict[str, object]) -> Row:
    row = await _own(ctx, job_id)
    if "title" in changes and changes["title"] is None:
        raise BadInput("Enter the title.", field="title")
    values = _details(changes)
    _check_schedule(
        values.get("scheduled_start", row.scheduled_start),
        values.get("scheduled_end", row.scheduled_end),
    )
    if not values:
        return row
    async with ctx.unit_of_work():
        return await _save(ctx, row, values)


async def set_status(
    ctx: RequestContext, job_id: str, status: JobStatus, message: str | None
) -> Row:
    viewer = ctx.staff()
    row = await _own(ctx, job_id, field="jobId")
    current = JobStatus(row.status)
    text = inputs.optional_text(
        message, "message", max_length=2000, label="message", multiline=True
    )
    if status is current:
        return row  # the same status again changes nothing and records nothing
    if not can_move(current, status):
        raise Conflict(
            f"A {current.value.lower()} job can only be reopened (to IN_PROGRESS).",
        )
    values: dict[str, object] = {"status": status, "status_changed_at": func.clock_timestamp()}
    if status is JobStatus.COMPLETED:
        values["completed_at"] = func.clock_timestamp()
    elif current is JobStatus.COMPLETED:
        values["completed_at"] = None
    async with ctx.unit_of_work():
        updated = await _save(ctx, row, values)
        await ctx.tx.execute(
            insert(job_status_changes).values(**_history_row(viewer, updated, status, text))
        )
    return updated


async def add_note(ctx: RequestContext, job_id: str, body: str, visible: bool | None) -> Row:
    viewer = ctx.staff()
    job = await _own(ctx, job_id, field="jobId")
    text = inputs.optional_text(body, "body", max_length=10000, label="note", multiline=True)
    if not text:
        raise BadInput("Write the note.", field="body")
    async with ctx.unit_of_work():
        row = await ctx.tx.first(
            insert(job_notes)
            .values(
                id=uuid.uuid4(),
                business_id=job.business_id,
                customer_id=job.customer_id,
                job_id=job.id,
                body=text,
                visible_to_customer=bool(visible),
                created_at=func.clock_timestamp(),
                author_staff_id=viewer.staff_member_id,
            )
            .returning(*scopes.readable(job_notes))
        )
    assert row is not None
    return row
