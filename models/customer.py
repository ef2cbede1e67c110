from __future__ import annotations

import enum
import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, Index, text
from sqlmodel import Field, SQLModel

from models.columns import business_id_field, id_field, timestamp


class PortalStatus(enum.StrEnum):
    NOT_INVITED = "NOT_INVITED"
    INVITED = "INVITED"
    ACTIVE = "ACTIVE"
    REVOKED = "REVOKED"


class Customer(SQLModel, table=True):
    __tablename__ = "customers"
    __table_args__ = (
        CheckConstraint(
            "portal_status IN ('NOT_INVITED', 'INVITED', 'ACTIVE', 'REVOKED')",
            name="customers_portal_status",
        ),
        # The email is the portal login, so it is unique within a business.
        Index(
            "customers_business_email",
            "business_id",
            "email",
            unique=True,
            postgresql_where=text("email IS NOT NULL"),
        ),
        Index("customers_business_name", "business_id", "name", "id"),
    )

    id: uuid.UUID = id_field()
    business_id: uuid.UUID = business_id_field()
    name: str = Field(max_length=200)
    email: str | None = Field(default=None, max_length=254)
    phone: str | None = Field(default=None, max_length=40)
    address: str | None = Field(default=None, max_length=1000)
    portal_status: str = Field(default=PortalStatus.NOT_INVITED, max_length=12)
    # Set when the customer accepts an invitation; cleared on revocation.
    password_hash: str | None = Field(default=None, max_length=200)
    created_at: datetime = timestamp(server_default=True)
