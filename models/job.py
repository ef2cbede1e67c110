"""Jobs a business does for a customer: status history, notes and photos.

Every table a customer may read carries `customer_id`, copied from the job, so row-level
security stays a plain column rule (migrations/rls.py). A composite foreign key to
jobs (id, customer_id) keeps the copy equal to the job's.
"""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Computed,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    SmallInteger,
    UniqueConstraint,
    Uuid,
    false,
)
from sqlmodel import Field, SQLModel

from models.columns import business_id_field, id_field, reference, timestamp


class JobStatus(enum.StrEnum):
    SCHEDULED = "SCHEDULED"
    IN_PROGRESS = "IN_PROGRESS"
    ON_HOLD = "ON_HOLD"
    COMPLETED = "COMPLETED"
    CANCELLED = "CANCELLED"


class PhotoStage(enum.StrEnum):
    BEFORE = "BEFORE"
    PROGRESS = "PROGRESS"
    AFTER = "AFTER"


CLOSED_STATUSES = ("COMPLETED", "CANCELLED")

# Microseconds since 1970 of a timestamptz, as an immutable expression (a generated column
# may use nothing else; extract() on a timestamptz is only stable).
_MICROS = "(extract(epoch FROM ({} - timestamptz '1970-01-01 00:00:00+00')) * 1000000)::bigint"
# Jobs list active first (by scheduled start, unscheduled last), then closed ones newest
# first. Two generated columns make that one ascending keyset order (list_rank, list_key,
# id) that an index serves and a cursor can carry.
LIST_RANK_SQL = "CASE WHEN status IN ('COMPLETED', 'CANCELLED') THEN 1 ELSE 0 END"
LIST_KEY_SQL = (
    "CASE WHEN status IN ('COMPLETED', 'CANCELLED') "
    f"THEN -{_MICROS.format('status_changed_at')} "
    f"ELSE coalesce({_MICROS.format('scheduled_start')}, 9000000000000000000) END"
)


def _job_reference(name: str) -> ForeignKeyConstraint:
    return ForeignKeyConstraint(
        ["job_id", "customer_id"],
        ["jobs.id", "jobs.customer_id"],
        ondelete="CASCADE",
        onupdate="CASCADE",
        name=f"{name}_job",
    )


def _staff_reference() -> Any:
    """Who did it; kept (as NULL) when that staff member is removed."""
    return Field(
        default=None,
        sa_column=Column(Uuid, ForeignKey("staff_members.id", ondelete="SET NULL")),
    )


class Job(SQLModel, table=True):
    __tablename__ = "jobs"
    __table_args__ = (
        CheckConstraint(
            "status IN ('SCHEDULED', 'IN_PROGRESS', 'ON_HOLD', 'COMPLETED', 'CANCELLED')",
            name="jobs_status",
        ),
        CheckConstraint(
            "scheduled_start IS NULL OR scheduled_end IS NULL OR scheduled_start <= scheduled_end",
            name="jobs_scheduled_in_order",
        ),
        UniqueConstraint("id", "customer_id", name="jobs_id_customer"),
        Index("jobs_business_list", "business_id", "list_rank", "list_key", "id"),
        Index("jobs_customer_list", "customer_id", "list_rank", "list_key", "id"),
    )

    id: uuid.UUID = id_field()
    business_id: uuid.UUID = business_id_field()
    customer_id: uuid.UUID = reference("customers.id", index=False)
    title: str = Field(max_length=200)
    description: str | None = Field(default=None, max_length=5000)
    status: str = Field(default=JobStatus.SCHEDULED, max_length=12)
    scheduled_start: datetime | None = timestamp(nullable=True)
    scheduled_end: datetime | None = timestamp(nullable=True)
    # Set when the job is COMPLETED, cleared when it is reopened.
    completed_at: datetime | None = timestamp(nullable=True)
    status_changed_at: datetime = timestamp(server_default=True)
    created_at: datetime = timestamp(server_default=True)
    list_rank: int | None = Field(
        default=None,
        sa_column=Column(SmallInteger, Computed(LIST_RANK_SQL, persisted=True), nullable=False),
    )
    list_key: int | None = Field(
        default=None,
        sa_column=Column(BigInteger, Computed(LIST_KEY_SQL, persisted=True), nullable=False),
    )


class JobStatusChange(SQLModel, table=True):
    __tablename__ = "job_status_changes"
    __table_args__ = (
        CheckConstraint(
            "status IN ('SCHEDULED', 'IN_PROGRESS', 'ON_HOLD', 'COMPLETED', 'CANCELLED')",
            name="job_status_changes_status",
        ),
        _job_reference("job_status_changes"),
        Index("job_status_changes_job_changed", "job_id", "changed_at", "id"),
    )

    id: uuid.UUID = id_field()
    business_id: uuid.UUID = business_id_field()
    customer_id: uuid.UUID = Field(sa_column=Column(Uuid, nullable=False))
    job_id: uuid.UUID = Field(sa_column=Column(Uuid, nullable=False))
    status: str = Field(max_length=12)
    # Shown to the customer with the change.
    message: str | None = Field(default=None, max_length=2000)
    changed_at: datetime = timestamp(server_default=True)
    changed_by_staff_id: uuid.UUID | None = _staff_reference()


class JobNote(SQLModel, table=True):
    __tablename__ = "job_notes"
    __table_args__ = (
        _job_reference("job_notes"),
        Index("job_notes_job_created", "job_id", "created_at", "id"),
    )

    id: uuid.UUID = id_field()
    business_id: uuid.UUID = business_id_field()
    customer_id: uuid.UUID = Field(sa_column=Column(Uuid, nullable=False))
    job_id: uuid.UUID = Field(sa_column=Column(Uuid, nullable=False))
    body: str = Field(max_length=10000)
    # Internal unless staff share it; a customer reads only shared notes (RLS and scopes).
    visible_to_customer: bool = Field(
        default=False, sa_column=Column(Boolean, nullable=False, server_default=false())
    )
    created_at: datetime = timestamp(server_default=True)
    author_staff_id: uuid.UUID | None = _staff_reference()


class Photo(SQLModel, table=True):
    __tablename__ = "photos"
    __table_args__ = (
        CheckConstraint("stage IN ('BEFORE', 'PROGRESS', 'AFTER')", name="photos_stage"),
        _job_reference("photos"),
        Index("photos_job_taken", "job_id", "taken_at", "id"),
    )

    id: uuid.UUID = id_field()
    business_id: uuid.UUID = business_id_field()
    customer_id: uuid.UUID = Field(sa_column=Column(Uuid, nullable=False))
    job_id: uuid.UUID = Field(sa_column=Column(Uuid, nullable=False))
    caption: str | None = Field(default=None, max_length=500)
    # From the uploader, else the image's EXIF DateTimeOriginal, else the upload time.
    taken_at: datetime = timestamp()
    stage: str = Field(default=PhotoStage.PROGRESS, max_length=10)
    # Object keys in storage/: the display image and its thumbnail.
    key: str = Field(max_length=300)
    thumbnail_key: str = Field(max_length=300)
    content_type: str = Field(max_length=50)
    width: int
    height: int
    byte_size: int
    created_at: datetime = timestamp(server_default=True)
    uploaded_by_staff_id: uuid.UUID | None = _staff_reference()
