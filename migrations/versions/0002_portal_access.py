"""portal access: emailed tokens, staff invitations, login failures

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

from migrations import rls

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "login_failures",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("account_hash", sa.LargeBinary(), nullable=False),
        sa.Column("ip_address", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column(
            "failed_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "login_failures_account", "login_failures", ["account_hash", "failed_at"], unique=False
    )
    op.create_index(
        "login_failures_ip", "login_failures", ["ip_address", "failed_at"], unique=False
    )
    op.create_table(
        "portal_tokens",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("business_id", sa.Uuid(), nullable=False),
        sa.Column("customer_id", sa.Uuid(), nullable=False),
        sa.Column("purpose", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("token_hash", sa.LargeBinary(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "purpose IN ('INVITATION', 'PASSWORD_RESET')", name="portal_tokens_purpose"
        ),
        sa.ForeignKeyConstraint(["business_id"], ["businesses.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("token_hash"),
    )
    op.create_index(
        op.f("ix_portal_tokens_business_id"), "portal_tokens", ["business_id"], unique=False
    )
    op.create_index(
        op.f("ix_portal_tokens_customer_id"), "portal_tokens", ["customer_id"], unique=False
    )
    op.create_table(
        "staff_invitations",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("business_id", sa.Uuid(), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("email", sqlmodel.sql.sqltypes.AutoString(length=254), nullable=False),
        sa.Column("role", sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
        sa.Column("token_hash", sa.LargeBinary(), nullable=False),
        sa.Column("invited_by_id", sa.Uuid(), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("accepted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("voided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("staff_member_id", sa.Uuid(), nullable=True),
        sa.CheckConstraint("role IN ('OWNER', 'ADMIN', 'MEMBER')", name="staff_invitations_role"),
        sa.ForeignKeyConstraint(["business_id"], ["businesses.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["staff_member_id"], ["staff_members.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("token_hash"),
    )
    op.create_index(
        op.f("ix_staff_invitations_business_id"), "staff_invitations", ["business_id"], unique=False
    )
    op.create_index(
        op.f("ix_staff_invitations_email"), "staff_invitations", ["email"], unique=False
    )

    # Customers use their tokens only through the server acting for the business.
    rls.tenant_table("portal_tokens", customer_column=None, staff_only=True)
    rls.tenant_table("staff_invitations", customer_column=None, staff_only=True)
    # No tenant: rows are keyed by a hash of the account and the client address.
    op.execute(f"GRANT SELECT, INSERT, DELETE ON login_failures TO {rls.APP_ROLE}")
    op.execute(f"GRANT USAGE ON SEQUENCE login_failures_id_seq TO {rls.APP_ROLE}")

    rls.auth_lookup("portal_tokens")
    rls.auth_lookup("staff_invitations")
    # Which business an emailed token belongs to, so the server can act in its scope.
    rls.definer_function(
        "portal_token_business(p_token_hash bytea)",
        "uuid",
        "SELECT business_id FROM portal_tokens WHERE token_hash = p_token_hash",
    )
    rls.definer_function(
        "staff_invitation_business(p_token_hash bytea)",
        "uuid",
        "SELECT business_id FROM staff_invitations WHERE token_hash = p_token_hash",
    )


def downgrade() -> None:
    op.execute("DROP FUNCTION IF EXISTS staff_invitation_business(bytea)")
    op.execute("DROP FUNCTION IF EXISTS portal_token_business(bytea)")
    for table in ("staff_invitations", "portal_tokens", "login_failures"):
        op.drop_table(table)
