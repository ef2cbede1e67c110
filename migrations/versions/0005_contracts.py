"""contracts: drafts, sent (frozen, hashed), signed by their customer once, or void

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

from migrations import rls

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Written out, not imported from models/: a released revision must not change with them.
SIGNATURE_COLUMNS = [
    "status",
    "signed_at",
    "signer_name",
    "signer_email",
    "signer_ip",
    "signer_user_agent",
    "signed_sha256",
    "signed_document_key",
    "signed_document_sha256",
    # Generated (from sent_at); listed so the column check leaves it alone.
    "visible_to_customer",
]


def _text(length: int | None = None) -> sqlmodel.sql.sqltypes.AutoString:
    return sqlmodel.sql.sqltypes.AutoString(length=length)


def _staff_column(name: str) -> tuple[sa.Column, sa.ForeignKeyConstraint]:
    return (
        sa.Column(name, sa.Uuid(), nullable=True),
        sa.ForeignKeyConstraint([name], ["staff_members.id"], ondelete="SET NULL"),
    )


def upgrade() -> None:
    created_by, created_by_fk = _staff_column("created_by_staff_id")
    sent_by, sent_by_fk = _staff_column("sent_by_staff_id")
    op.create_table(
        "contracts",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("business_id", sa.Uuid(), nullable=False),
        sa.Column("customer_id", sa.Uuid(), nullable=False),
        sa.Column("job_id", sa.Uuid(), nullable=True),
        sa.Column("title", _text(200), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("status", _text(6), nullable=False),
        sa.Column(
            "visible_to_customer",
            sa.Boolean(),
            sa.Computed("sent_at IS NOT NULL", persisted=True),
            nullable=False,
        ),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        created_by,
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sent_by,
        sa.Column("document_sha256", _text(64), nullable=True),
        sa.Column("voided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("signed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("signer_name", _text(200), nullable=True),
        sa.Column("signer_email", _text(254), nullable=True),
        sa.Column("signer_ip", _text(64), nullable=True),
        sa.Column("signer_user_agent", _text(1000), nullable=True),
        sa.Column("signed_sha256", _text(64), nullable=True),
        sa.Column("signed_document_key", _text(300), nullable=True),
        sa.Column("signed_document_sha256", _text(64), nullable=True),
        sa.CheckConstraint(
            "status IN ('DRAFT', 'SENT', 'SIGNED', 'VOID')", name="contracts_status"
        ),
        sa.CheckConstraint(
            "status NOT IN ('SENT', 'SIGNED') "
            "OR (sent_at IS NOT NULL AND document_sha256 IS NOT NULL)",
            name="contracts_sent_frozen",
        ),
        sa.CheckConstraint(
            "(status = 'SIGNED') = (signed_at IS NOT NULL AND signer_name IS NOT NULL "
            "AND signer_email IS NOT NULL AND signer_ip IS NOT NULL "
            "AND signed_document_key IS NOT NULL AND signed_document_sha256 IS NOT NULL "
            "AND signed_sha256 IS NOT NULL AND signed_sha256 = document_sha256)",
            name="contracts_signature_whole",
        ),
        sa.ForeignKeyConstraint(["business_id"], ["businesses.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(
            ["job_id", "customer_id"], ["jobs.id", "jobs.customer_id"], name="contracts_job"
        ),
        created_by_fk,
        sent_by_fk,
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_contracts_business_id"), "contracts", ["business_id"], unique=False)
    op.create_index(
        "contracts_business_list", "contracts", ["business_id", "created_at", "id"], unique=False
    )
    op.create_index(
        "contracts_customer_list", "contracts", ["customer_id", "created_at", "id"], unique=False
    )
    op.create_index("contracts_job_list", "contracts", ["job_id", "created_at", "id"], unique=False)

    # A customer reads their own contracts once sent (never a draft, nor a voided draft);
    # staff write them; the customer's one write is signing their own SENT contract, and
    # only its signature.
    rls.tenant_table(
        "contracts", customer_column="customer_id", customer_flag="visible_to_customer"
    )
    rls.customer_update(
        "contracts",
        customer_column="customer_id",
        state="status = 'SENT'",
        columns=SIGNATURE_COLUMNS,
    )
    # What no one changes, whoever asks: a sent contract's content and hash, anything of a
    # signed one (both parties keep that copy) or a void one; and a customer's one write
    # is a signature.
    op.execute(
        """
        CREATE FUNCTION contracts_frozen() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          IF OLD.status IN ('SIGNED', 'VOID') THEN
            RAISE EXCEPTION 'a % contract does not change', lower(OLD.status)
              USING ERRCODE = 'check_violation';
          END IF;
          IF OLD.status = 'SENT' AND (NEW.title IS DISTINCT FROM OLD.title
              OR NEW.body IS DISTINCT FROM OLD.body
              OR NEW.document_sha256 IS DISTINCT FROM OLD.document_sha256
              OR NEW.sent_at IS DISTINCT FROM OLD.sent_at
              OR NEW.status = 'DRAFT') THEN
            RAISE EXCEPTION 'a sent contract is frozen' USING ERRCODE = 'check_violation';
          END IF;
          IF app_customer_id() IS NOT NULL AND NEW.status <> 'SIGNED' THEN
            RAISE EXCEPTION 'a customer only signs a contract'
              USING ERRCODE = 'insufficient_privilege';
          END IF;
          RETURN NEW;
        END $$
        """
    )
    op.execute(
        "CREATE TRIGGER contracts_frozen BEFORE UPDATE ON contracts "
        "FOR EACH ROW EXECUTE FUNCTION contracts_frozen()"
    )


def downgrade() -> None:
    op.drop_table("contracts")
    op.execute("DROP FUNCTION contracts_frozen()")
    op.execute("DROP FUNCTION contracts_customer_columns()")
