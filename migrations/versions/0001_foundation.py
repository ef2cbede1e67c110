"""foundation: businesses, staff, customers, appointments, sessions; row-level security

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

from migrations import rls

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "businesses",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("slug", sqlmodel.sql.sqltypes.AutoString(length=80), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("slug"),
    )
    op.create_table(
        "customers",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("business_id", sa.Uuid(), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("email", sqlmodel.sql.sqltypes.AutoString(length=254), nullable=True),
        sa.Column("phone", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=True),
        sa.Column("address", sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=True),
        sa.Column("portal_status", sqlmodel.sql.sqltypes.AutoString(length=12), nullable=False),
        sa.Column("password_hash", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "portal_status IN ('NOT_INVITED', 'INVITED', 'ACTIVE', 'REVOKED')",
            name="customers_portal_status",
        ),
        sa.ForeignKeyConstraint(["business_id"], ["businesses.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "customers_business_email",
        "customers",
        ["business_id", "email"],
        unique=True,
        postgresql_where=sa.text("email IS NOT NULL"),
    )
    op.create_index(
        "customers_business_name", "customers", ["business_id", "name", "id"], unique=False
    )
    op.create_index(op.f("ix_customers_business_id"), "customers", ["business_id"], unique=False)
    op.create_table(
        "staff_members",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("business_id", sa.Uuid(), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("email", sqlmodel.sql.sqltypes.AutoString(length=254), nullable=False),
        sa.Column("role", sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
        sa.Column("password_hash", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint("role IN ('OWNER', 'ADMIN', 'MEMBER')", name="staff_members_role"),
        sa.ForeignKeyConstraint(["business_id"], ["businesses.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("email"),
    )
    op.create_index(
        op.f("ix_staff_members_business_id"), "staff_members", ["business_id"], unique=False
    )
    op.create_table(
        "appointments",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("business_id", sa.Uuid(), nullable=False),
        sa.Column("customer_id", sa.Uuid(), nullable=False),
        sa.Column("title", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("location", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True),
        sa.Column("details", sqlmodel.sql.sqltypes.AutoString(length=5000), nullable=True),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "status IN ('SCHEDULED', 'CANCELLED', 'COMPLETED')", name="appointments_status"
        ),
        sa.CheckConstraint("starts_at < ends_at", name="appointments_starts_before_ends"),
        sa.ForeignKeyConstraint(["business_id"], ["businesses.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "appointments_business_ends", "appointments", ["business_id", "ends_at"], unique=False
    )
    op.create_index(
        "appointments_customer_ends", "appointments", ["customer_id", "ends_at"], unique=False
    )
    op.create_index(
        op.f("ix_appointments_business_id"), "appointments", ["business_id"], unique=False
    )
    op.create_table(
        "sessions",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("business_id", sa.Uuid(), nullable=False),
        sa.Column("staff_member_id", sa.Uuid(), nullable=True),
        sa.Column("customer_id", sa.Uuid(), nullable=True),
        sa.Column("token_hash", sa.LargeBinary(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "last_seen_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("user_agent", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True),
        sa.Column("ip_address", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.CheckConstraint(
            "(staff_member_id IS NULL) <> (customer_id IS NULL)", name="sessions_one_principal"
        ),
        sa.ForeignKeyConstraint(["business_id"], ["businesses.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["staff_member_id"], ["staff_members.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("token_hash"),
    )
    op.create_index(op.f("ix_sessions_business_id"), "sessions", ["business_id"], unique=False)
    op.create_index(op.f("ix_sessions_customer_id"), "sessions", ["customer_id"], unique=False)
    op.create_index(
        op.f("ix_sessions_staff_member_id"), "sessions", ["staff_member_id"], unique=False
    )

    rls.create_roles()
    rls.create_scope_functions()
    rls.tenant_table("businesses", customer_column=None)
    rls.tenant_table("staff_members", customer_column=None)
    rls.tenant_table("customers", customer_column="id")
    rls.tenant_table("appointments", customer_column="customer_id")
    rls.tenant_table("sessions", customer_column="customer_id", customer_writes=True)

    rls.auth_lookup("businesses")
    rls.auth_lookup("staff_members")
    rls.auth_lookup("customers")
    rls.auth_lookup("sessions", update=True)
    # The bearer token's session, if live; touches last_seen_at at most once a minute.
    rls.definer_function(
        "auth_session(p_token_hash bytea)",
        "TABLE(session_id uuid, business_id uuid, staff_member_id uuid, customer_id uuid,"
        " role text, expires_at timestamptz)",
        """
        UPDATE sessions SET last_seen_at = now()
         WHERE token_hash = p_token_hash AND last_seen_at < now() - interval '1 minute';
        SELECT s.id, s.business_id, s.staff_member_id, s.customer_id, m.role, s.expires_at
          FROM sessions s
          LEFT JOIN staff_members m ON m.id = s.staff_member_id
          LEFT JOIN customers c ON c.id = s.customer_id
         WHERE s.token_hash = p_token_hash AND s.expires_at > now()
           AND (m.id IS NOT NULL OR c.portal_status = 'ACTIVE')
        """,
    )
    rls.definer_function(
        "staff_login_account(p_email text)",
        "TABLE(business_id uuid, staff_member_id uuid, password_hash text)",
        "SELECT business_id, id, password_hash FROM staff_members WHERE email = p_email",
    )
    rls.definer_function(
        "portal_login_account(p_slug text, p_email text)",
        "TABLE(business_id uuid, customer_id uuid, password_hash text, portal_status text)",
        """
        SELECT c.business_id, c.id, c.password_hash, c.portal_status
          FROM businesses b JOIN customers c ON c.business_id = b.id
         WHERE b.slug = p_slug AND c.email = p_email
        """,
    )
    rls.definer_function(
        "business_slug_taken(p_slug text)",
        "boolean",
        "SELECT EXISTS (SELECT 1 FROM businesses WHERE slug = p_slug)",
    )
    rls.definer_function(
        "staff_email_taken(p_email text)",
        "boolean",
        "SELECT EXISTS (SELECT 1 FROM staff_members WHERE email = p_email)",
    )


def downgrade() -> None:
    for function in (
        "staff_email_taken(text)",
        "business_slug_taken(text)",
        "portal_login_account(text, text)",
        "staff_login_account(text)",
        "auth_session(bytea)",
        "app_customer_id()",
        "app_business_id()",
    ):
        op.execute(f"DROP FUNCTION IF EXISTS {function}")
    for table in ("sessions", "appointments", "staff_members", "customers", "businesses"):
        op.drop_table(table)
