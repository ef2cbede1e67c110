"""Row-level security's cost: the two statements behind the customers × appointments list,
run directly with asyncpg as `portal_app` (policies apply) and as `postgres` (a superuser,
who bypasses them), alternately, so both see the same conditions."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import asyncpg

from bench.portal import BenchError
from bench.seed import connect

SQL_REPEATS = 500
SQL_WARMUP = 50
PAGE_SIZE = 50

CUSTOMERS_PAGE_SQL = "SELECT * FROM customers WHERE business_id = $1 ORDER BY name, id LIMIT 51"
APPOINTMENT_PAGES_SQL = """
SELECT * FROM (
  SELECT a.*, row_number() OVER (PARTITION BY customer_id ORDER BY starts_at, id) AS n
    FROM appointments a
   WHERE a.business_id = $1 AND a.customer_id = ANY($2::uuid[]) AND a.ends_at > now()
) s WHERE n <= 6
"""


@dataclass
class StatementCost:
    label: str
    rows: int
    rls_us: float
    superuser_us: float


async def time_statement(
    label: str, rls: asyncpg.Connection, superuser: asyncpg.Connection, sql: str, *args: object
) -> StatementCost:
    """Mean µs per execution under each role; checks both roles get the same rows."""
    counts = {len(await rls.fetch(sql, *args)), len(await superuser.fetch(sql, *args))}
    if len(counts) != 1:
        raise BenchError(f"roles disagree on the row count ({counts}) for: {sql.strip()[:60]}")
    for _ in range(SQL_WARMUP):
        await rls.fetch(sql, *args)
        await superuser.fetch(sql, *args)
    spent = {"rls": 0.0, "superuser": 0.0}
    for _ in range(SQL_REPEATS):
        for name, conn in (("rls", rls), ("superuser", superuser)):
            started = time.perf_counter()
            await conn.fetch(sql, *args)
            spent[name] += time.perf_counter() - started
    to_us = 1e6 / SQL_REPEATS
    return StatementCost(label, counts.pop(), spent["rls"] * to_us, spent["superuser"] * to_us)


async def measure_row_security(data_dir: Path) -> list[StatementCost]:
    superuser = await connect(data_dir, "postgres")
    rls = await connect(data_dir, "portal_app")
    try:
        business_id = await superuser.fetchval("SELECT id FROM businesses LIMIT 1")
        await rls.execute("SELECT set_config('app.business_id', $1, false)", str(business_id))
        customers = await rls.fetch(CUSTOMERS_PAGE_SQL, business_id)
        customer_ids = [row["id"] for row in customers[:PAGE_SIZE]]
        return [
            await time_statement(
                "(a) customers page", rls, superuser, CUSTOMERS_PAGE_SQL, business_id
            ),
            await time_statement(
                "(b) appointment pages",
                rls,
                superuser,
                APPOINTMENT_PAGES_SQL,
                business_id,
                customer_ids,
            ),
        ]
    finally:
        await rls.close()
        await superuser.close()


def print_row_security(costs: list[StatementCost]) -> None:
    print(f"Row-level security (asyncpg over the Unix socket, mean of {SQL_REPEATS} runs each)")
    header = "  {:<24}{:>6}{:>15}{:>13}{:>13}{:>12}"
    row = "  {:<24}{:>6}{:>15.1f}{:>13.1f}{:>+13.1f}{:>+11.1f}%"
    print(header.format("statement", "rows", "portal_app µs", "postgres µs", "RLS cost µs", "%"))
    for cost in costs:
        difference = cost.rls_us - cost.superuser_us
        percent = 100 * difference / cost.superuser_us
        print(
            row.format(cost.label, cost.rows, cost.rls_us, cost.superuser_us, difference, percent)
        )
