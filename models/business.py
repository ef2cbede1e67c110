from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Boolean, Column, String, false, text
from sqlmodel import Field, SQLModel

from models.columns import id_field, timestamp


class Business(SQLModel, table=True):
    __tablename__ = "businesses"

    id: uuid.UUID = id_field()
    name: str = Field(max_length=200)
    # Public part of portal URLs; unique across all businesses.
    slug: str = Field(max_length=80, unique=True)
    created_at: datetime = timestamp(server_default=True)
    # An IANA name: "overdue" is judged by the business's own calendar.
    time_zone: str = Field(
        default="UTC", sa_column=Column(String(64), nullable=False, server_default=text("'UTC'"))
    )
    # Stripe Connect: the business's connected account, and whether it can take card
    # payments (from `account.updated` webhooks, the newest event's word kept).
    stripe_account_id: str | None = Field(default=None, max_length=255, unique=True)
    charges_enabled: bool = Field(
        default=False, sa_column=Column(Boolean, nullable=False, server_default=false())
    )
    stripe_account_synced_at: datetime | None = timestamp(nullable=True)
