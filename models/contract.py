"""Contracts a business sends a customer to sign in the portal.

DRAFT → SENT (content frozen, its hash recorded) → SIGNED (by the customer, once), or VOID
from DRAFT or SENT. The signature columns are the one write a customer makes to a business's
table, narrowed by a row rule (auth/scopes.py `CONTRACT_SIGNING`, migration 0005's policy and
triggers). Customers never see a contract that was not sent to them, a draft or a voided
draft: `visible_to_customer` (generated: sent_at is set) says so to row-level security.
"""

from __future__ import annotations

import enum
import uuid
from datetime import datetime

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Column,
    Computed,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Text,
    Uuid,
)
from sqlmodel import Field, SQLModel

from models.columns import business_id_field, id_field, reference, timestamp


class ContractStatus(enum.StrEnum):
    DRAFT = "DRAFT"
    SENT = "SENT"
    SIGNED = "SIGNED"
    VOID = "VOID"


class Contract(SQLModel, table=True):
    __tablename__ = "contracts"
    __table_args__ = (
        CheckConstraint("status IN ('DRAFT', 'SENT', 'SIGNED', 'VOID')", name="contracts_status"),
        CheckConstraint(
            "status NOT IN ('SENT', 'SIGNED') "
            "OR (sent_at IS NOT NULL AND document_sha256 IS NOT NULL)",
            name="contracts_sent_frozen",
        ),
        CheckConstraint(
            "(status = 'SIGNED') = (signed_at IS NOT NULL AND signer_name IS NOT NULL "
            "AND signer_email IS NOT NULL AND signer_ip IS NOT NULL "
            "AND signed_document_key IS NOT NULL AND signed_document_sha256 IS NOT NULL "
            "AND signed_sha256 IS NOT NULL AND signed_sha256 = document_sha256)",
            name="contracts_signature_whole",
        ),
        # The job, if any, is the same customer's (jobs_id_customer); NO ACTION both ways: a
        # contract's customer never changes under it.
        ForeignKeyConstraint(
            ["job_id", "customer_id"], ["jobs.id", "jobs.customer_id"], name="contracts_job"
        ),
        Index("contracts_business_list", "business_id", "created_at", "id"),
        Index("contracts_customer_list", "customer_id", "created_at", "id"),
        Index("contracts_job_list", "job_id", "created_at", "id"),
    )

    id: uuid.UUID = id_field()
    business_id: uuid.UUID = business_id_field()
    customer_id: uuid.UUID = reference("customers.id", index=False)
    job_id: uuid.UUID | None = Field(default=None, sa_column=Column(Uuid, nullable=True))
    title: str = Field(max_length=200)
    # Markdown, as written; frozen once sent.
    body: str = Field(sa_column=Column(Text, nullable=False))
    status: str = Field(default=ContractStatus.DRAFT, max_length=6)
    visible_to_customer: bool | None = Field(
        default=None,
        sa_column=Column(Boolean, Computed("sent_at IS NOT NULL", persisted=True), nullable=False),
    )
    created_at: datetime = timestamp(server_default=True)
    created_by_staff_id: uuid.UUID | None = Field(
        default=None,
        sa_column=Column(Uuid, ForeignKey("staff_members.id", ondelete="SET NULL")),
    )
    sent_at: datetime | None = timestamp(nullable=True)
    sent_by_staff_id: uuid.UUID | None = Field(
        default=None,
        sa_column=Column(Uuid, ForeignKey("staff_members.id", ondelete="SET NULL")),
    )
    # SHA-256 (hex) of the canonical bytes (resolvers/contract_documents.py), set when sent.
    document_sha256: str | None = Field(default=None, max_length=64)
    voided_at: datetime | None = timestamp(nullable=True)
    # The signature: who, when, from where, and the hash they signed.
    signed_at: datetime | None = timestamp(nullable=True)
    signer_name: str | None = Field(default=None, max_length=200)
    signer_email: str | None = Field(default=None, max_length=254)
    signer_ip: str | None = Field(default=None, max_length=64)
    signer_user_agent: str | None = Field(default=None, max_length=1000)
    signed_sha256: str | None = Field(default=None, max_length=64)
    # The signed copy (PDF) in storage/, and the SHA-256 of its bytes.
    signed_document_key: str | None = Field(default=None, max_length=300)
    signed_document_sha256: str | None = Field(default=None, max_length=64)
