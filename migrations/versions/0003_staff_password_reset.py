"""staff password reset: emailed tokens for staff accounts

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

from migrations import rls

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "staff_tokens",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("business_id", sa.Uuid(), nullable=False),
        sa.Column("staff_member_id", sa.Uuid(), nullable=False),
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
        sa.CheckConstraint("purpose IN ('PASSWORD_RESET')", name="staff_tokens_purpose"),
        sa.ForeignKeyConstraint(["business_id"], ["businesses.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["staff_member_id"], ["staff_members.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("token_hash"),
    )
    op.create_index(
        op.f("ix_staff_tokens_business_id"), "staff_tokens", ["business_id"], unique=False
    )
    op.create_index(
        op.f("ix_staff_tokens_staff_member_id"), "staff_tokens", ["staff_member_id"], unique=False
    )

    # Staff tokens are used only through the server acting for the business.
    rls.tenant_table("staff_tokens", customer_column=None, staff_only=True)
    rls.auth_lookup("staff_tokens")
    # Which business a staff reset token belongs to, so the server can act in its scope.
    rls.definer_function(
        "staff_token_business(p_token_hash bytea)",
        "uuid",
        "SELECT business_id FROM staff_tokens WHERE token_hash = p_token_hash",
    )


def downgrade() -> None:
    op.execute("DROP FUNCTION IF EXISTS staff_token_business(bytea)")
    op.drop_table("staff_tokens")
