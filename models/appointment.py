from __future__ import annotations

import enum
import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, Column, ForeignKey, Index, Uuid
from sqlmodel import Field, SQLModel

from models.columns import business_id_field, id_field, reference, timestamp


class AppointmentStatus(enum.StrEnum):
    SCHEDULED = "SCHEDULED"
    CANCELLED = "CANCELLED"
    COMPLETED = "COMPLETED"


class Appointment(SQLModel, table=True):
    __tablename__ = "appointments"
    __table_args__ = (
        CheckConstraint("starts_at < ends_at", name="appointments_starts_before_ends"),
        CheckConstraint(
            "status IN ('SCHEDULED', 'CANCELLED', 'COMPLETED')", name="appointments_status"
        ),
        Index("appointments_business_ends", "business_id", "ends_at"),
        Index("appointments_customer_ends", "customer_id", "ends_at"),
    )

    id: uuid.UUID = id_field()
    business_id: uuid.UUID = business_id_field()
    customer_id: uuid.UUID = reference("customers.id", index=False)
    title: str = Field(max_length=200)
    starts_at: datetime = timestamp()
    ends_at: datetime = timestamp()
    location: str | None = Field(default=None, max_length=500)
    details: str | None = Field(default=None, max_length=5000)
    status: str = Field(default=AppointmentStatus.SCHEDULED, max_length=10)
    created_at: datetime = timestamp(server_default=True)
    # The job this visit is for, if any (the same customer's; resolvers check).
    job_id: uuid.UUID | None = Field(
        default=None,
        sa_column=Column(Uuid, ForeignKey("jobs.id", ondelete="SET NULL"), index=True),
    )
