from __future__ import annotations

import enum
import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, Column, Uuid
from sqlmodel import Field, SQLModel

from models.columns import business_id_field, id_field, reference, timestamp


class StaffRole(enum.StrEnum):
    OWNER = "OWNER"
    ADMIN = "ADMIN"
    MEMBER = "MEMBER"


ROLE_CHECK = "role IN ('OWNER', 'ADMIN', 'MEMBER')"


class StaffMember(SQLModel, table=True):
    __tablename__ = "staff_members"
    __table_args__ = (CheckConstraint(ROLE_CHECK, name="staff_members_role"),)

    id: uuid.UUID = id_field()
    business_id: uuid.UUID = business_id_field()
    name: str = Field(max_length=200)
    # Staff sign in with email alone, so an address belongs to one staff account overall.
    email: str = Field(max_length=254, unique=True)
    role: str = Field(max_length=10)
    password_hash: str = Field(max_length=200)
    created_at: datetime = timestamp(server_default=True)


class StaffInvitation(SQLModel, table=True):
    __tablename__ = "staff_invitations"
    __table_args__ = (CheckConstraint(ROLE_CHECK, name="staff_invitations_role"),)

    id: uuid.UUID = id_field()
    business_id: uuid.UUID = business_id_field()
    name: str = Field(max_length=200)
    email: str = Field(max_length=254, index=True)
    role: str = Field(max_length=10)
    # SHA-256 of the emailed token; the token itself is never stored.
    token_hash: bytes = Field(unique=True)
    invited_by_id: uuid.UUID | None = Field(default=None, sa_column=Column(Uuid, nullable=True))
    expires_at: datetime = timestamp()
    accepted_at: datetime | None = timestamp(nullable=True)
    voided_at: datetime | None = timestamp(nullable=True)
    created_at: datetime = timestamp(server_default=True)
    staff_member_id: uuid.UUID | None = reference("staff_members.id", nullable=True, index=False)
