"""Sessions, emailed tokens and login failures: the tables behind signing in."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, Column, Index
from sqlmodel import Field, SQLModel

from models.columns import business_id_field, id_field, reference, timestamp


class AuthSession(SQLModel, table=True):
    """A signed-in device. Exactly one of staff_member_id / customer_id is set."""

    __tablename__ = "sessions"
    __table_args__ = (
        CheckConstraint(
            "(staff_member_id IS NULL) <> (customer_id IS NULL)", name="sessions_one_principal"
        ),
    )

    id: uuid.UUID = id_field()
    business_id: uuid.UUID = business_id_field()
    staff_member_id: uuid.UUID | None = reference("staff_members.id", nullable=True)
    customer_id: uuid.UUID | None = reference("customers.id", nullable=True)
    # SHA-256 of the bearer token; the token itself is never stored.
    token_hash: bytes = Field(unique=True)
    created_at: datetime = timestamp(server_default=True)
    expires_at: datetime = timestamp()
    last_seen_at: datetime = timestamp(server_default=True)
    user_agent: str | None = Field(default=None, max_length=500)
    ip_address: str | None = Field(default=None, max_length=64)


class TokenPurpose(enum.StrEnum):
    """What an emailed token is for (staff invitations have a table of their own)."""

    INVITATION = "INVITATION"
    PASSWORD_RESET = "PASSWORD_RESET"


class PortalToken(SQLModel, table=True):
    """A single-use emailed token for a customer: an invitation or a password reset."""

    __tablename__ = "portal_tokens"
    __table_args__ = (
        CheckConstraint(
            "purpose IN ('INVITATION', 'PASSWORD_RESET')", name="portal_tokens_purpose"
        ),
    )

    id: uuid.UUID = id_field()
    business_id: uuid.UUID = business_id_field()
    customer_id: uuid.UUID = reference("customers.id")
    purpose: str = Field(max_length=20)
    token_hash: bytes = Field(unique=True)
    expires_at: datetime = timestamp()
    used_at: datetime | None = timestamp(nullable=True)
    created_at: datetime = timestamp(server_default=True)


class StaffToken(SQLModel, table=True):
    """A single-use emailed token for a staff member: a password reset."""

    __tablename__ = "staff_tokens"
    __table_args__ = (
        CheckConstraint("purpose IN ('PASSWORD_RESET')", name="staff_tokens_purpose"),
    )

    id: uuid.UUID = id_field()
    business_id: uuid.UUID = business_id_field()
    staff_member_id: uuid.UUID = reference("staff_members.id")
    purpose: str = Field(max_length=20)
    token_hash: bytes = Field(unique=True)
    expires_at: datetime = timestamp()
    used_at: datetime | None = timestamp(nullable=True)
    created_at: datetime = timestamp(server_default=True)


class LoginFailure(SQLModel, table=True):
    """One failed sign-in. Kept in PostgreSQL so the limits hold across server processes.
    The account is kept only as a hash: this table belongs to no tenant and must leak none."""

    __tablename__ = "login_failures"
    __table_args__ = (
        Index("login_failures_account", "account_hash", "failed_at"),
        Index("login_failures_ip", "ip_address", "failed_at"),
    )

    id: int | None = Field(
        default=None, sa_column=Column(BigInteger, primary_key=True, autoincrement=True)
    )
    account_hash: bytes
    ip_address: str = Field(max_length=64)
    failed_at: datetime = timestamp(server_default=True)
