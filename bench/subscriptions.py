"""Realtime delivery: BENCH_SUBSCRIBERS (default 1,000) WebSocket subscribers of
`messageAdded`, half on each of two server processes sharing one PostgreSQL, half of them
staff of the business and half the customer whose thread it is (two audiences per process).

Server A is started as `make run` starts it (embedded PostgreSQL); server B is a second
`python -m serve` on A's database. The clients run in two worker processes (so the client
side is not one busy event loop), each holding half the sockets, and time-stamp every
frame as it arrives (the wall clock, shared by all processes on this machine).

Figures:
- one message: latency from just before the `sendMessage` request to each subscriber's
  receipt (it includes the mutation's own HTTP round trip and commit), p50/p99 over
  BENCH_ROUNDS rounds × all subscribers;
- a burst: BENCH_BURST messages sent 8 at a time; messages/s until every subscriber has
  every one of them, and frames/s delivered;
- memory per idle connection: server A's resident memory growth per socket (connected,
  signed in, one subscription), measured over its half of the sockets.

    .venv/bin/python -m bench.subscriptions      (make bench-realtime)
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import os
import statistics
import tempfile
import time
from datetime import datetime
from pathlib import Path
from urllib.parse import quote

import httpx
import psutil
import websockets

from bench.portal import (
    PYTHON,
    REPO_ROOT,
    BenchError,
    Server,
    free_port,
    server_log_tail,
    start_server,
    stop_server,
    wait_until_healthy,
)
from bench.seed import graphql, register_business, sign_in_customer, socket_of

SUBSCRIBERS = int(os.environ.get("BENCH_SUBSCRIBERS", "1000"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "20"))
BURST = int(os.environ.get("BENCH_BURST", "200"))
SUBSCRIPTION = "subscription { messageAdded { id body createdAt sender { __typename } } }"
SEND = "mutation($i: SendMessageInput!) { sendMessage(input: $i) { id } }"


def start_second(first: Server, workdir: Path) -> Server:
    """`python -m serve` on the first server's database."""
    import subprocess

    socket_dir, port = socket_of(first.data_dir)
    url = f"postgresql://portal_owner@/portal?host={quote(socket_dir)}&port={port}"
    http_port = free_port()
    log_path = workdir / "server-b.log"
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "DATA_DIR": str(workdir / "data-b"),
        "PORT": str(http_port),
        "HOST": "127.0.0.1",
        "LOG_LEVEL": "WARNING",
    }
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [str(PYTHON), "-m", "serve"], cwd=REPO_ROOT, env=env, stdout=log, stderr=log
        )
    return Server(process, f"http://127.0.0.1:{http_port}", workdir / "data-b", log_path)


# -- a client worker process ----------------------------------------------------------------


def worker(urls_tokens: list[tuple[str, str]], pipe) -> None:
    asyncio.run(_worker(urls_tokens, pipe))


async def _worker(urls_tokens: list[tuple[str, str]], pipe) -> None:
    arrivals: dict[str, list[float]] = {}
    sockets = []

    async def open_one(url: str, token: str) -> None:
        ws = await websockets.connect(
            url,
            subprotocols=["graphql-transport-ws"],
            open_timeout=60,
            ping_interval=None,
        )
        init = {"type": "connection_init", "payload": {"Authorization": f"Bearer {token}"}}
        await ws.send(json.dumps(init))
        assert json.loads(await ws.recv())["type"] == "connection_ack"
        await ws.send(
            json.dumps({"type": "subscribe", "id": "1", "payload": {"query": SUBSCRIPTION}})
        )
        sockets.append(ws)

    async def listen(ws) -> None:
        try:
            async for raw in ws:
                now = time.time()
                message = json.loads(raw)
                if message["type"] == "next":
                    added = message["payload"]["data"]["messageAdded"]
                    created = datetime.fromisoformat(added["createdAt"]).timestamp()
                    arrivals.setdefault(added["body"], []).append((now, created))
                elif message["type"] == "ping":
                    await ws.send('{"type":"pong"}')
        except websockets.ConnectionClosed:
            pass

    gate = asyncio.Semaphore(50)

    async def opened(url: str, token: str) -> None:
        async with gate:
            await open_one(url, token)

    await asyncio.gather(*(opened(u, t) for u, t in urls_tokens))
    listeners = [asyncio.create_task(listen(ws)) for ws in sockets]
    loop = asyncio.get_running_loop()
    pipe.send(("ready", len(sockets)))
    while True:
        command = await loop.run_in_executor(None, pipe.recv)
        if command == "stop":
            break
        if command == "arrivals":
            pipe.send(arrivals)
            arrivals = {}
    for task in listeners:
        task.cancel()
    await asyncio.gather(*(ws.close() for ws in sockets), return_exceptions=True)


# -- the coordinator ------------------------------------------------------------------------


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


async def wait_for_all(pipes: list, bodies: set[str], expected: int, patience: float) -> dict:
    """Poll the workers until every body arrived at `expected` sockets."""
    got: dict[str, list[float]] = {}
    deadline = time.monotonic() + patience
    while True:
        for pipe in pipes:
            pipe.send("arrivals")
        for pipe in pipes:
            for body, times in (await asyncio.to_thread(pipe.recv)).items():
                got.setdefault(body, []).extend(times)
        if all(len(got.get(b, ())) >= expected for b in bodies):
            return got
        if time.monotonic() > deadline:
            missing = {b: expected - len(got.get(b, ())) for b in bodies}
            raise BenchError(f"not all delivered: {sum(missing.values())} frames missing")
        await asyncio.sleep(0.05)


def rss(server: Server) -> int:
    return psutil.Process(server.pid).memory_info().rss


async def main() -> None:
    workdir = Path(tempfile.mkdtemp(prefix="bench-realtime-"))
    first = start_server(workdir)
    second = None
    processes: list[multiprocessing.Process] = []
    try:
        wait_until_healthy(first)
        second = start_second(first, workdir)
        wait_until_healthy(second)
        async with httpx.AsyncClient(base_url=first.base_url, timeout=60) as client:
            staff = await register_business(client)
            created = await graphql(
                client,
                'mutation { createCustomer(input: {name: "Cy Bench", '
                'email: "cy@bench.example"}) { id } }',
                token=staff,
            )
            customer_id = created["createCustomer"]["id"]
            customer = await sign_in_customer(
                client, staff, customer_id, "cy@bench.example", first.data_dir / "outbox"
            )
            servers = [first, second]
            plan = [
                (
                    servers[i % 2].base_url.replace("http://", "ws://") + "/graphql",
                    staff if (i // 2) % 2 == 0 else customer,
                )
                for i in range(SUBSCRIBERS)
            ]
            idle_before = rss(first)
            halves = [plan[0::2], plan[1::2]]  # worker 0: server A's, worker 1: server B's
            pipes = []
            for half in halves:
                parent, child = multiprocessing.Pipe()
                process = multiprocessing.Process(target=worker, args=(half, child), daemon=True)
                process.start()
                processes.append(process)
                pipes.append(parent)
            opened = sum([(await asyncio.to_thread(p.recv))[1] for p in pipes])
            await asyncio.sleep(1.0)
            per_socket = (rss(first) - idle_before) / (SUBSCRIBERS / 2)
            print(f"{opened} subscribers open ({SUBSCRIBERS // 2} per server process)")

            # warm-up, then one message at a time
            await wait_for_all(pipes, set(), 0, 1)
            await graphql(client, SEND, {"i": {"body": "warm-up"}}, customer)
            await wait_for_all(pipes, {"warm-up"}, SUBSCRIBERS, 30)
            latencies: list[float] = []  # from the row's insert (its createdAt)
            round_trips: list[float] = []  # from before the sendMessage request
            for n in range(ROUNDS):
                body = f"round {n}"
                started = time.time()
                await graphql(client, SEND, {"i": {"body": body, "customerId": customer_id}}, staff)
                got = await wait_for_all(pipes, {body}, SUBSCRIBERS, 30)
                latencies += [(t - created) * 1000 for t, created in got[body]]
                round_trips += [(t - started) * 1000 for t, _ in got[body]]

            # a burst
            bodies = [f"burst {n}" for n in range(BURST)]
            gate = asyncio.Semaphore(8)

            async def one(body: str) -> None:
                async with gate:
                    await graphql(client, SEND, {"i": {"body": body}}, customer)

            started = time.time()
            await asyncio.gather(*(one(b) for b in bodies))
            sent = time.time()
            got = await wait_for_all(pipes, set(bodies), SUBSCRIBERS, 120)
            done = max(max(t for t, _ in times) for times in got.values())
            burst_seconds = done - started

        for pipe in pipes:
            pipe.send("stop")
        print()
        print(f"one message to {SUBSCRIBERS} subscribers over two processes, {ROUNDS} rounds:")
        print(
            f"  from the message's insert: p50 {statistics.median(latencies):.1f} ms, "
            f"p99 {percentile(latencies, 99):.1f} ms, max {max(latencies):.1f} ms"
        )
        print(
            f"  from before the sendMessage request: p50 {statistics.median(round_trips):.1f} "
            f"ms, p99 {percentile(round_trips, 99):.1f} ms"
        )
        print(f"a burst of {BURST} messages (8 in flight):")
        print(
            f"  sent in {sent - started:.2f} s; all delivered after {burst_seconds:.2f} s: "
            f"{BURST / burst_seconds:.0f} messages/s, "
            f"{BURST * SUBSCRIBERS / burst_seconds:,.0f} frames/s"
        )
        print(f"memory per idle connection (server A): {per_socket / 1024:.1f} KiB")
    finally:
        for process in processes:
            process.join(timeout=10)
            if process.is_alive():
                process.kill()
        if second is not None:
            stop_server(second)
        code = stop_server(first)
        if code not in (0, None):
            print("\n".join(server_log_tail(first)))


if __name__ == "__main__":
    asyncio.run(main())
