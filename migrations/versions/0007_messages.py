"""messages: one thread per customer with the business's team; every new message and job
status change announced (NOTIFY, by trigger) to every server process on commit

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

from migrations import rls

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Written out, not imported from realtime/: a released revision must not change with it.
CHANNEL = "portal_realtime"


def _announce(table: str, kind: str) -> None:
    """A trigger that NOTIFYs every inserted row of `table`: ids only (NOTIFY's payload is
    at most 8 KB), heard only once the inserting transaction commits. A trigger, so that
    every path that writes the table announces it."""
    op.execute(
        f"""
        CREATE FUNCTION {table}_announce() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          PERFORM pg_notify('{CHANNEL}', json_build_object(
            'kind', '{kind}', 'id', NEW.id, 'business', NEW.business_id,
            'customer', NEW.customer_id, 'job', NEW.job_id)::text);
          RETURN NULL;
        END $$
        """
    )
    op.execute(
        f"CREATE TRIGGER announce AFTER INSERT ON {table} "
        f"FOR EACH ROW EXECUTE FUNCTION {table}_announce()"
    )


def upgrade() -> None:
    op.create_table(
        "messages",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("business_id", sa.Uuid(), nullable=False),
        sa.Column("customer_id", sa.Uuid(), nullable=False),
        sa.Column("job_id", sa.Uuid(), nullable=True),
        sa.Column("body", sqlmodel.sql.sqltypes.AutoString(length=5000), nullable=False),
        sa.Column("from_customer", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("sender_staff_id", sa.Uuid(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("read_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("emailed_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["business_id"], ["businesses.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(
            ["job_id", "customer_id"],
            ["jobs.id", "jobs.customer_id"],
            name="messages_job",
            ondelete="CASCADE",
            onupdate="CASCADE",
        ),
        sa.ForeignKeyConstraint(["sender_staff_id"], ["staff_members.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_messages_business_id"), "messages", ["business_id"], unique=False)
    op.create_index(
        "messages_thread", "messages", ["customer_id", "created_at", "id"], unique=False
    )
    op.create_index(
        "messages_unread",
        "messages",
        ["business_id", "from_customer", "customer_id"],
        unique=False,
        postgresql_where=sa.text("read_at IS NULL"),
    )
    # A customer reads their own thread; staff write anything of the business's. A customer
    # writes only their own messages, and marks the team's read (read_at, nothing else).
    rls.tenant_table("messages", customer_column="customer_id")
    op.execute(
        "CREATE POLICY customer_insert ON messages FOR INSERT WITH CHECK ("
        "business_id = app_business_id() AND customer_id = app_customer_id() "
        "AND from_customer AND sender_staff_id IS NULL)"
    )
    rls.customer_update(
        "messages", customer_column="customer_id", state="NOT from_customer", columns=["read_at"]
    )
    _announce("messages", "message")
    _announce("job_status_changes", "job_status")


def downgrade() -> None:
    op.execute("DROP TRIGGER announce ON job_status_changes")
    op.execute("DROP FUNCTION job_status_changes_announce()")
    op.drop_table("messages")
    op.execute("DROP FUNCTION messages_announce()")
    op.execute("DROP FUNCTION messages_customer_columns()")
