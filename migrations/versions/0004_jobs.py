"""jobs: status history, notes (shared or internal) and photos; appointments may name a job

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

from migrations import rls

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Written out, not imported from models/: a released revision must not change with them.
# Jobs list active first by scheduled start (unscheduled last), then closed ones newest
# first: one ascending keyset order (list_rank, list_key, id). Immutable expressions only
# (extract() on a timestamptz is merely stable; on an interval it is immutable).
_EPOCH_MICROS = (
    "(extract(epoch FROM ({} - timestamptz '1970-01-01 00:00:00+00')) * 1000000)::bigint"
)
LIST_RANK_SQL = "CASE WHEN status IN ('COMPLETED', 'CANCELLED') THEN 1 ELSE 0 END"
LIST_KEY_SQL = (
    "CASE WHEN status IN ('COMPLETED', 'CANCELLED') "
    f"THEN -{_EPOCH_MICROS.format('status_changed_at')} "
    f"ELSE coalesce({_EPOCH_MICROS.format('scheduled_start')}, 9000000000000000000) END"
)

_STATUSES = "status IN ('SCHEDULED', 'IN_PROGRESS', 'ON_HOLD', 'COMPLETED', 'CANCELLED')"


def _now() -> sa.Column:
    return sa.text("now()")


def _job_children_columns() -> list[sa.Column]:
    return [
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("business_id", sa.Uuid(), nullable=False),
        sa.Column("customer_id", sa.Uuid(), nullable=False),
        sa.Column("job_id", sa.Uuid(), nullable=False),
    ]


def _job_children_constraints(table: str) -> list[sa.Constraint]:
    return [
        sa.ForeignKeyConstraint(["business_id"], ["businesses.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(
            ["job_id", "customer_id"],
            ["jobs.id", "jobs.customer_id"],
            name=f"{table}_job",
            ondelete="CASCADE",
            onupdate="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id"),
    ]


def _staff_column(name: str) -> tuple[sa.Column, sa.ForeignKeyConstraint]:
    return (
        sa.Column(name, sa.Uuid(), nullable=True),
        sa.ForeignKeyConstraint([name], ["staff_members.id"], ondelete="SET NULL"),
    )


def upgrade() -> None:
    op.create_table(
        "jobs",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("business_id", sa.Uuid(), nullable=False),
        sa.Column("customer_id", sa.Uuid(), nullable=False),
        sa.Column("title", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("description", sqlmodel.sql.sqltypes.AutoString(length=5000), nullable=True),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=12), nullable=False),
        sa.Column("scheduled_start", sa.DateTime(timezone=True), nullable=True),
        sa.Column("scheduled_end", sa.DateTime(timezone=True), nullable=True),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "status_changed_at", sa.DateTime(timezone=True), server_default=_now(), nullable=False
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=_now(), nullable=False),
        sa.Column(
            "list_rank",
            sa.SmallInteger(),
            sa.Computed(LIST_RANK_SQL, persisted=True),
            nullable=False,
        ),
        sa.Column(
            "list_key", sa.BigInteger(), sa.Computed(LIST_KEY_SQL, persisted=True), nullable=False
        ),
        sa.CheckConstraint(_STATUSES, name="jobs_status"),
        sa.CheckConstraint(
            "scheduled_start IS NULL OR scheduled_end IS NULL OR scheduled_start <= scheduled_end",
            name="jobs_scheduled_in_order",
        ),
        sa.ForeignKeyConstraint(["business_id"], ["businesses.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("id", "customer_id", name="jobs_id_customer"),
    )
    op.create_index(op.f("ix_jobs_business_id"), "jobs", ["business_id"], unique=False)
    op.create_index(
        "jobs_business_list", "jobs", ["business_id", "list_rank", "list_key", "id"], unique=False
    )
    op.create_index(
        "jobs_customer_list", "jobs", ["customer_id", "list_rank", "list_key", "id"], unique=False
    )

    changed_by, changed_by_fk = _staff_column("changed_by_staff_id")
    op.create_table(
        "job_status_changes",
        *_job_children_columns(),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=12), nullable=False),
        sa.Column("message", sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=True),
        sa.Column("changed_at", sa.DateTime(timezone=True), server_default=_now(), nullable=False),
        changed_by,
        sa.CheckConstraint(_STATUSES, name="job_status_changes_status"),
        changed_by_fk,
        *_job_children_constraints("job_status_changes"),
    )
    op.create_index(
        "job_status_changes_job_changed",
        "job_status_changes",
        ["job_id", "changed_at", "id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_job_status_changes_business_id"),
        "job_status_changes",
        ["business_id"],
        unique=False,
    )

    author, author_fk = _staff_column("author_staff_id")
    op.create_table(
        "job_notes",
        *_job_children_columns(),
        sa.Column("body", sqlmodel.sql.sqltypes.AutoString(length=10000), nullable=False),
        sa.Column("visible_to_customer", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=_now(), nullable=False),
        author,
        author_fk,
        *_job_children_constraints("job_notes"),
    )
    op.create_index(
        "job_notes_job_created", "job_notes", ["job_id", "created_at", "id"], unique=False
    )
    op.create_index(op.f("ix_job_notes_business_id"), "job_notes", ["business_id"], unique=False)

    uploader, uploader_fk = _staff_column("uploaded_by_staff_id")
    op.create_table(
        "photos",
        *_job_children_columns(),
        sa.Column("caption", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True),
        sa.Column("taken_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("stage", sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
        sa.Column("key", sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
        sa.Column("thumbnail_key", sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
        sa.Column("content_type", sqlmodel.sql.sqltypes.AutoString(length=50), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("byte_size", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=_now(), nullable=False),
        uploader,
        sa.CheckConstraint("stage IN ('BEFORE', 'PROGRESS', 'AFTER')", name="photos_stage"),
        uploader_fk,
        *_job_children_constraints("photos"),
    )
    op.create_index("photos_job_taken", "photos", ["job_id", "taken_at", "id"], unique=False)
    op.create_index(op.f("ix_photos_business_id"), "photos", ["business_id"], unique=False)

    op.add_column("appointments", sa.Column("job_id", sa.Uuid(), nullable=True))
    op.create_foreign_key(
        "appointments_job_id_fkey", "appointments", "jobs", ["job_id"], ["id"], ondelete="SET NULL"
    )
    op.create_index(op.f("ix_appointments_job_id"), "appointments", ["job_id"], unique=False)

    # A customer reads their own jobs, their status history and photos, and only the notes
    # the business shared with them; only staff write any of it.
    rls.tenant_table("jobs", customer_column="customer_id")
    rls.tenant_table("job_status_changes", customer_column="customer_id")
    rls.tenant_table(
        "job_notes", customer_column="customer_id", customer_flag="visible_to_customer"
    )
    rls.tenant_table("photos", customer_column="customer_id")


def downgrade() -> None:
    op.drop_index(op.f("ix_appointments_job_id"), table_name="appointments")
    op.drop_constraint("appointments_job_id_fkey", "appointments", type_="foreignkey")
    op.drop_column("appointments", "job_id")
    op.drop_table("photos")
    op.drop_table("job_notes")
    op.drop_table("job_status_changes")
    op.drop_table("jobs")
