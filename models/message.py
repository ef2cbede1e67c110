"""Messages: one thread per customer between the customer and the business's team,
optionally about one of the customer's jobs.

A message is written by one side (`from_customer`) and read by the other (`read_at`).
`delivered_at` says an open portal of the customer received it live (realtime/), and
`emailed_at` that the customer was emailed about it instead (at most one email per thread
per quarter hour).
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import (
    Boolean,
    Column,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Uuid,
    false,
    text,
)
from sqlmodel import Field, SQLModel

from models.columns import business_id_field, id_field, reference, timestamp

MAX_BODY = 5000


class Message(SQLModel, table=True):
    __tablename__ = "messages"
    __table_args__ = (
        # The job, when named, is the same customer's (MATCH SIMPLE: no job, no check).
        ForeignKeyConstraint(
            ["job_id", "customer_id"],
            ["jobs.id", "jobs.customer_id"],
            ondelete="CASCADE",
            onupdate="CASCADE",
            name="messages_job",
        ),
        Index("messages_thread", "customer_id", "created_at", "id"),
        # Unread counts: the other side's messages not read yet.
        Index(
            "messages_unread",
            "business_id",
            "from_customer",
            "customer_id",
            postgresql_where=text("read_at IS NULL"),
        ),
    )

    id: uuid.UUID = id_field()
    business_id: uuid.UUID = business_id_field()
    customer_id: uuid.UUID = reference("customers.id", index=False)
    job_id: uuid.UUID | None = Field(default=None, sa_column=Column(Uuid, nullable=True))
    body: str = Field(max_length=MAX_BODY)
    # Which side wrote it: the customer, or a staff member (kept as null when removed).
    from_customer: bool = Field(
        default=False, sa_column=Column(Boolean, nullable=False, server_default=false())
    )
    sender_staff_id: uuid.UUID | None = Field(
        default=None,
        sa_column=Column(Uuid, ForeignKey("staff_members.id", ondelete="SET NULL")),
    )
    created_at: datetime = timestamp(server_default=True)
    read_at: datetime | None = timestamp(nullable=True)
    delivered_at: datetime | None = timestamp(nullable=True)
    emailed_at: datetime | None = timestamp(nullable=True)
