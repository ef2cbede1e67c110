"""Benchmark: the portal server's read path beside PostGraphile v5, in one run, on one database.

1. Starts the portal server as `make run` starts it (fresh DATA_DIR, embedded PostgreSQL,
   SERVER_TIMING=1) and seeds it through its API (bench/seed.py): one business, 1,000
   customers × 5 upcoming appointments, the first customer signed in to the portal.
2. Starts PostGraphile twice on that database (bench/anchor.py), as the app role: one with
   the staff scope (BUSINESS_ID), one with the first customer's (CUSTOMER_ID too).
3. Checks that both servers answer each query (bench/queries.py) with the same number of leaf
   values, and prints the portal's `Server-Timing` header (statements; the read path).
4. Measures each query at 1 and 8 requests in flight with a closed-loop load generator
   (bench/load.py: wrk, or a Python fallback), portal and PostGraphile interleaved, twice,
   and keeps the better run of each: req/s, p50/p99 latency, and CPU per request of the
   server process and of PostgreSQL (/proc/<pid>/stat before and after the run).
5. Row-level security's cost on the same database (bench/row_security.py).

Everything it starts is stopped, and the temporary DATA_DIR removed. It prints; it asserts
nothing about timing. Run: `make bench` (or `.venv/bin/python -m bench.read_path`).

Settings (environment): BENCH_SECONDS (10) per measured run, BENCH_WARMUP_SECONDS (2) before
the first run of each, BENCH_ROUNDS (2) interleaved runs of each, BENCH_CONCURRENCY ("1 8"),
BENCH_LOAD=python for the Python load generator even where wrk is installed,
BENCH_ANCHOR=0 to measure the portal alone, BENCH_RLS=0 to skip step 5.
"""

from __future__ import annotations

import asyncio
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from bench import anchor, load
from bench.cpu import postgres_cpu_seconds, postgres_processes, postmaster, process_cpu_seconds
from bench.portal import (
    BenchError,
    Server,
    server_log_tail,
    start_server,
    stop_server,
    wait_until_healthy,
)
from bench.queries import ReadQuery, leaf_values, read_queries
from bench.row_security import measure_row_security, print_row_security
from bench.seed import Seeded, connect, seed, socket_of

SECONDS = float(os.environ.get("BENCH_SECONDS", "10"))
WARMUP_SECONDS = float(os.environ.get("BENCH_WARMUP_SECONDS", "2"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "2"))
CONCURRENCY = [int(n) for n in os.environ.get("BENCH_CONCURRENCY", "1 8").split()]
MEASURE_RLS = os.environ.get("BENCH_RLS", "1") != "0"

PORTAL = "portal"
POSTGRAPHILE = "PostGraphile"


@dataclass
class Contender:
    """One server answering one query: where to send it, and whose CPU to read."""

    server: str  # PORTAL or POSTGRAPHILE
    pid: int
    target: load.Target


@dataclass
class Run:
    load: load.LoadResult
    server_cpu_seconds: float
    postgres_cpu_seconds: float

    def per_request_ms(self, seconds: float) -> float:
        return seconds * 1000 / self.load.requests if self.load.requests else float("nan")


# --- before timing: both servers answer alike -----------------------------------------------


def ask(url: str, query: str, token: str) -> tuple[dict, bytes, str | None]:
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    body = json.dumps({"query": query}).encode()
    response = httpx.post(url, content=body, headers=headers, timeout=60)
    payload = response.json()
    if response.status_code != 200 or payload.get("errors") or "data" not in payload:
        raise BenchError(f"{url}: HTTP {response.status_code}, {str(payload)[:600]}")
    return payload["data"], response.content, response.headers.get("server-timing")


def target(url: str, query: str, token: str, response: bytes) -> load.Target:
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    body = json.dumps({"query": query}).encode()
    return load.Target(url, body, headers, len(response))


def contenders(
    query: ReadQuery,
    portal: Server,
    anchors: dict[str, anchor.PostGraphile],
    tokens: dict[str, str],
) -> list[Contender]:
    token = tokens[query.scope]
    portal_url = f"{portal.base_url}/graphql"
    data, raw, timing = ask(portal_url, query.portal, token)
    leaves = leaf_values(data)
    found = [Contender(PORTAL, portal.pid, target(portal_url, query.portal, token, raw))]
    line = f"  {query.name:<26} portal {leaves:>5} leaf values; Server-Timing: {timing}"
    if query.scope in anchors:
        instance = anchors[query.scope]
        data, raw, _ = ask(instance.url, query.postgraphile, token)
        theirs = leaf_values(data)
        if theirs != leaves:
            raise BenchError(f"{query.name}: portal {leaves} leaf values, PostGraphile {theirs}")
        their_target = target(instance.url, query.postgraphile, token, raw)
        found.append(Contender(POSTGRAPHILE, instance.pid, their_target))
        line += f"; PostGraphile {theirs} (same)"
    print(line)
    return found


# --- timing ---------------------------------------------------------------------------------


def measure(contender: Contender, connections: int, seconds: float, postgres) -> Run:
    server_before = process_cpu_seconds(contender.pid)
    postgres_before = postgres_cpu_seconds(postgres)
    result = load.run_load(contender.target, connections, seconds)
    server = process_cpu_seconds(contender.pid) - server_before
    database = postgres_cpu_seconds(postgres) - postgres_before
    if result.non_2xx or result.socket_errors or result.other_length:
        print(
            f"    !! {contender.server}: {result.non_2xx} non-2xx, {result.socket_errors} socket"
            f" errors, {result.other_length} bodies of another length than the checked one"
        )
    return Run(result, server, database)


def measure_all(
    queries: list[tuple[ReadQuery, list[Contender]]], postgres
) -> dict[tuple[str, str, int], Run]:
    """Every query at each concurrency: the contenders interleaved, ROUNDS times; the better
    (more req/s) run of each is kept."""
    best: dict[tuple[str, str, int], Run] = {}
    for query, found in queries:
        for connections in CONCURRENCY:
            if WARMUP_SECONDS > 0:
                for contender in found:
                    load.run_load(contender.target, connections, WARMUP_SECONDS)
            for round_number in range(1, ROUNDS + 1):
                for contender in found:
                    run = measure(contender, connections, SECONDS, postgres)
                    key = (query.name, contender.server, connections)
                    if key not in best or run.load.per_second > best[key].load.per_second:
                        best[key] = run
                    print(
                        f"  {query.name:<26} {contender.server:<13} @{connections} run"
                        f" {round_number}: {run.load.per_second:8.1f} req/s, p50"
                        f" {run.load.p50_ms:7.2f} ms, server CPU"
                        f" {run.per_request_ms(run.server_cpu_seconds):6.2f} ms/req, load"
                        f" generator CPU {run.per_request_ms(run.load.generator_cpu_seconds):5.2f}"
                        " ms/req",
                        flush=True,
                    )
    return best


# --- the report -----------------------------------------------------------------------------


def machine(postgres_version: str, anchor_note: str) -> list[tuple[str, str]]:
    model = "unknown"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return [
        ("cpus (nproc)", str(os.cpu_count())),
        ("cpu model", model),
        ("platform", platform.platform()),
        ("python", f"{platform.python_implementation()} {sys.version.split()[0]}"),
        ("postgresql", postgres_version),
        ("postgraphile", anchor_note),
        ("load generator", load.generator_name() + ", same machine"),
    ]


def ratio(mine: float, theirs: float) -> str:
    """mine / theirs; n/a below 0.05 (ms of CPU a request), where /proc's 10 ms ticks
    spread over a run leave no ratio worth printing."""
    return f"{mine / theirs:.2f}×" if theirs >= 0.05 else "n/a"


def print_table(queries: list[ReadQuery], best: dict[tuple[str, str, int], Run]) -> None:
    low, high = CONCURRENCY[0], CONCURRENCY[-1]
    row = "  {:<26}{:<14}{:>9}{:>9}{:>17}{:>17}{:>9}{:>9}{:>8}{:>8}"
    print(
        row.format(
            "query",
            "server",
            f"req/s@{low}",
            f"req/s@{high}",
            f"p50/p99 ms @{low}",
            f"p50/p99 ms @{high}",
            f"CPU@{low}",
            f"CPU@{high}",
            f"PG@{low}",
            f"PG@{high}",
        )
    )
    for query in queries:
        servers = [s for s in (PORTAL, POSTGRAPHILE) if (query.name, s, low) in best]
        cells: dict[str, list[float]] = {}
        for server in servers:
            a, b = best[(query.name, server, low)], best[(query.name, server, high)]
            cells[server] = [
                a.load.per_second,
                b.load.per_second,
                a.load.p50_ms,
                a.load.p99_ms,
                b.load.p50_ms,
                b.load.p99_ms,
                a.per_request_ms(a.server_cpu_seconds),
                b.per_request_ms(b.server_cpu_seconds),
                a.per_request_ms(a.postgres_cpu_seconds),
                b.per_request_ms(b.postgres_cpu_seconds),
            ]
            v = cells[server]
            print(
                row.format(
                    query.name if server == PORTAL else "",
                    server,
                    f"{v[0]:.1f}",
                    f"{v[1]:.1f}",
                    f"{v[2]:.2f}/{v[3]:.2f}",
                    f"{v[4]:.2f}/{v[5]:.2f}",
                    f"{v[6]:.2f}",
                    f"{v[7]:.2f}",
                    f"{v[8]:.2f}",
                    f"{v[9]:.2f}",
                )
            )
        if len(servers) == 2:
            m, t = cells[PORTAL], cells[POSTGRAPHILE]
            print(
                row.format(
                    "",
                    "portal/PG",
                    ratio(m[0], t[0]),
                    ratio(m[1], t[1]),
                    f"{ratio(m[2], t[2])}/{ratio(m[3], t[3])}",
                    f"{ratio(m[4], t[4])}/{ratio(m[5], t[5])}",
                    ratio(m[6], t[6]),
                    ratio(m[7], t[7]),
                    ratio(m[8], t[8]),
                    ratio(m[9], t[9]),
                )
            )


def print_sources(portal: Server, anchors: dict[str, anchor.PostGraphile], postgres) -> None:
    pids = ", ".join(f"{a.scope} pid {a.pid}" for a in anchors.values()) or "not run"
    print("Where each figure comes from")
    print("  req/s, p50/p99   the load generator: requests / its own run time, latency per")
    print(f"                   request; better (more req/s) of {ROUNDS} interleaved runs of")
    print(f"                   {SECONDS:.0f} s, after {WARMUP_SECONDS:.0f} s of warm-up per query")
    print("  CPU ms/req       utime+stime from /proc/<pid>/stat, after minus before the run,")
    print(f"                   / requests: portal `python -m serve` pid {portal.pid};")
    print(f"                   PostGraphile node ({pids})")
    print("  PG ms/req        the same for the embedded PostgreSQL: postmaster pid")
    print(f"                   {postgres.pid}, its backends and its reaped children (one")
    print("                   database for both servers; only one is under load at a time)")
    print("  portal/PG        portal figure / PostGraphile figure: req/s below 1× and")
    print("                   latency or CPU above 1× mean the portal is behind")


# --- main -----------------------------------------------------------------------------------


async def seed_portal(portal: Server) -> Seeded:
    limits = httpx.Limits(max_connections=16, max_keepalive_connections=16)
    async with httpx.AsyncClient(base_url=portal.base_url, timeout=60.0, limits=limits) as client:
        return await seed(client, portal.data_dir)


def start_anchors(
    portal: Server, seeded: Seeded, workdir: Path, anchors: dict[str, anchor.PostGraphile]
) -> str:
    """Both PostGraphile instances into `anchors` (main stops them), or none; returns what the
    report says about PostGraphile."""
    reason = anchor.missing()
    if reason:
        print(f"  !! PostGraphile not measured: {reason}; measuring this server alone")
        return f"not measured: {reason}"
    socket_dir, port = socket_of(portal.data_dir)
    url = anchor.app_url(socket_dir, port)
    scopes = {"staff": "", "customer": seeded.customer_id}
    try:
        for scope, customer_id in scopes.items():
            anchors[scope] = anchor.start(scope, url, seeded.business_id, customer_id, workdir)
        for instance in anchors.values():
            seconds = anchor.wait_until_ready(instance)
            print(f"  PostGraphile ({instance.scope} scope) ready in {seconds:.1f} s")
    except BenchError as exc:
        for instance in anchors.values():
            anchor.stop(instance)
        anchors.clear()
        print(f"  !! PostGraphile did not start ({exc}); measuring this server alone")
        return "not measured: it did not start"
    return anchor.versions() + f", via {anchor.ANCHOR / 'run.sh'}"


def benchmark(portal: Server, workdir: Path, anchors: dict[str, anchor.PostGraphile]) -> None:
    started = time.perf_counter()
    startup = wait_until_healthy(portal)
    print(f"Setup\n  portal server start to /healthz {startup:6.1f} s")
    seeded = asyncio.run(seed_portal(portal))
    for step, seconds in seeded.timings.items():
        print(f"  seed: {step:<32}{seconds:6.1f} s")
    anchor_note = start_anchors(portal, seeded, workdir, anchors)
    postgres = postmaster(portal.data_dir)
    if postgres is None:
        raise BenchError("no postgres process with DATA_DIR in its command line")
    postgres_version = asyncio.run(server_version(portal))

    print("Same answers (leaf values per response) before timing")
    tokens = {"staff": seeded.staff_token, "customer": seeded.customer_token}
    measured = read_queries(seeded.customer_id)
    queries = [(query, contenders(query, portal, anchors, tokens)) for query in measured]

    print(f"Runs ({load.generator_name()})")
    best = measure_all(queries, postgres)
    costs = asyncio.run(measure_row_security(portal.data_dir)) if MEASURE_RLS else None

    print()
    print("Machine")
    for name, value in machine(postgres_version, anchor_note):
        print(f"  {name:<17}{value}")
    print("Read path, this server against PostGraphile v5 (CPU and PG in ms per request)")
    print_table([q for q, _ in queries], best)
    print_sources(portal, anchors, postgres)
    if costs:
        print_row_security(costs)
    print(f"Total benchmark time {time.perf_counter() - started:.0f} s")


async def server_version(portal: Server) -> str:
    conn = await connect(portal.data_dir, "postgres")
    try:
        return await conn.fetchval("SHOW server_version")
    finally:
        await conn.close()


def main() -> int:
    workdir = Path(tempfile.mkdtemp(prefix="portal-bench-"))
    portal = start_server(workdir)
    anchors: dict[str, anchor.PostGraphile] = {}
    failed = False
    try:
        benchmark(portal, workdir, anchors)
    except BenchError as exc:
        failed = True
        print(f"\n!! benchmark failed: {exc}", file=sys.stderr)
    finally:
        anchor_codes = {scope: anchor.stop(instance) for scope, instance in anchors.items()}
        code = stop_server(portal)
        leftover = postgres_processes(portal.data_dir)
        log = server_log_tail(portal)
        if not leftover:  # never delete a running PostgreSQL's data directory
            shutil.rmtree(workdir, ignore_errors=True)
    print("Shutdown")
    for scope, anchor_code in anchor_codes.items():
        print(f"  PostGraphile ({scope}) exit code {anchor_code}")
    print(f"  portal server exit code        {code}")
    print(f"  postgres left running          {len(leftover)} process(es)")
    if leftover:
        print(f"  !! kept {workdir} for the running PostgreSQL (pids {[p.pid for p in leftover]})")
    if failed and log:
        print(f"Server output (last {len(log)} non-empty lines)")
        for line in log:
            print(f"  | {line}")
    return 1 if failed or leftover else 0


if __name__ == "__main__":
    sys.exit(main())
