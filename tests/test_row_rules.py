"""The two row rules the next domains need, each said twice — as a query builder
(auth/scopes.py) and as row-level security (migrations/rls.py) — tried on scratch tables as
the app role: rows a customer sees only when a flag shares them (job notes), and a customer
write narrowed to one state and a few columns (signing their own SENT contract)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest
import pytest_asyncio
from alembic.migration import MigrationContext
from alembic.operations import Operations
from sqlalchemy import Boolean, Column, MetaData, String, Table, Uuid
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import create_async_engine

import embedded
from auth import scopes
from auth.principal import Principal
from db import async_url
from migrations import rls

BUSINESS, OTHER_BUSINESS = uuid.uuid4(), uuid.uuid4()
ANN, BOB = uuid.uuid4(), uuid.uuid4()
metadata = MetaData()
notes = Table(
    "scratch_notes",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("business_id", Uuid, nullable=False),
    Column("customer_id", Uuid, nullable=False),
    Column("body", String, nullable=False),
    Column("shared", Boolean, nullable=False),
)
papers = Table(
    "scratch_papers",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("business_id", Uuid, nullable=False),
    Column("customer_id", Uuid, nullable=False),
    Column("body", String, nullable=False),
    Column("status", String, nullable=False),
    Column("signer_name", String),
)
SIGNING = scopes.CustomerWrite(
    papers, "customer_id", lambda c: c.status == "SENT", frozenset({"status", "signer_name"})
)


def _apply_rules(connection) -> None:
    metadata.create_all(connection)
    with Operations.context(MigrationContext.configure(connection)):
        rls.tenant_table("scratch_notes", customer_column="customer_id", customer_flag="shared")
        rls.tenant_table("scratch_papers", customer_column="customer_id")
        rls.customer_update(
            "scratch_papers",
            customer_column="customer_id",
            state="status = 'SENT'",
            columns=["status", "signer_name"],
        )


@pytest_asyncio.fixture
async def scratch(
    database: embedded.EmbeddedDatabase, superuser: asyncpg.Connection
) -> AsyncIterator[None]:
    engine = create_async_engine(async_url(database.owner_url))
    async with engine.begin() as connection:
        await connection.run_sync(_apply_rules)
    rows = [
        (BUSINESS, ANN, "shared with Ann", True),
        (BUSINESS, ANN, "internal about Ann", False),
        (BUSINESS, BOB, "shared with Bob", True),
        (OTHER_BUSINESS, ANN, "another business", True),
    ]
    await superuser.executemany(
        "INSERT INTO scratch_notes VALUES (gen_random_uuid(), $1, $2, $3, $4)", rows
    )
    papers_rows = [(BUSINESS, ANN, "SENT"), (BUSINESS, ANN, "DRAFT"), (BUSINESS, BOB, "SENT")]
    await superuser.executemany(
        "INSERT INTO scratch_papers VALUES (gen_random_uuid(), $1, $2, 'terms', $3)", papers_rows
    )
    try:
        yield
    finally:
        async with engine.begin() as connection:
            await connection.run_sync(metadata.drop_all)
            await connection.exec_driver_sql(
                "DROP FUNCTION IF EXISTS scratch_papers_customer_columns()"
            )
        await engine.dispose()


def _sql(statement) -> tuple:
    """(SQL, *parameters) for asyncpg."""
    compiled = statement.compile(dialect=postgresql.asyncpg.dialect())
    return str(compiled), *(compiled.params[name] for name in compiled.positiontup)


async def _as(database: embedded.EmbeddedDatabase, customer: uuid.UUID | None):
    connection = await asyncpg.connect(database.app_url)
    await connection.execute(
        "SELECT set_config('app.business_id', $1, false), set_config('app.customer_id', $2, false)",
        str(BUSINESS),
        str(customer or ""),
    )
    return connection


@pytest.mark.usefixtures("scratch")
async def test_a_flag_shares_rows_with_their_customer(database: embedded.EmbeddedDatabase) -> None:
    ann = Principal(business_id=BUSINESS, session_id=None, customer_id=ANN)
    staff = Principal(business_id=BUSINESS, session_id=None, staff_member_id=uuid.uuid4())
    for viewer, expected in (
        (ann, {"shared with Ann"}),
        (staff, {"shared with Ann", "internal about Ann", "shared with Bob"}),
    ):
        query = scopes._tenant(notes, viewer, "customer_id", customer_flag="shared")
        connection = await _as(database, viewer.customer_id)
        try:
            # The builder says it, and row-level security says it again underneath.
            built = {r["body"] for r in await connection.fetch(*_sql(query))}
            everything = {r["body"] for r in await connection.fetch("SELECT * FROM scratch_notes")}
        finally:
            await connection.close()
        assert built == expected
        assert everything == expected


@pytest.mark.usefixtures("scratch")
async def test_a_customer_signs_only_their_own_sent_row_and_only_its_signature(
    database: embedded.EmbeddedDatabase, superuser: asyncpg.Connection
) -> None:
    ann = Principal(business_id=BUSINESS, session_id=None, customer_id=ANN)
    connection = await _as(database, ANN)
    try:
        signed = await connection.execute(
            *_sql(SIGNING.update(ann, status="SIGNED", signer_name="Ann"))
        )
        assert signed == "UPDATE 1"  # her SENT paper; not her draft, not Bob's
        # Row-level security alone, without the builder's filters: still only hers, in state.
        raw = await connection.execute(
            "UPDATE scratch_papers SET signer_name = 'Mallory', status = 'SIGNED'"
        )
        assert raw == "UPDATE 0"  # the signed one left SENT, the others are not hers or SENT
        await superuser.execute(
            "UPDATE scratch_papers SET status = 'SENT' WHERE customer_id = $1 AND status = 'DRAFT'",
            ANN,
        )
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await connection.execute("UPDATE scratch_papers SET body = 'new terms'")
    finally:
        await connection.close()
    with pytest.raises(ValueError, match="body"):
        SIGNING.update(ann, body="new terms")
    staff = Principal(business_id=BUSINESS, session_id=None, staff_member_id=uuid.uuid4())
    assert "false" in _sql(SIGNING.update(staff, status="SIGNED"))[0].lower()
    rows = await superuser.fetch(
        "SELECT customer_id, status, signer_name, body FROM scratch_papers"
    )
    assert sorted((r["customer_id"] == ANN, r["status"], r["signer_name"]) for r in rows) == [
        (False, "SENT", None),
        (True, "SENT", None),
        (True, "SIGNED", "Ann"),
    ]
    assert {r["body"] for r in rows} == {"terms"}
