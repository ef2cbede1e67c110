"""The load generator: a closed loop of N connections (N requests in flight), each sending
the next request as soon as its previous response has arrived, over HTTP/1.1 keep-alive.

wrk (C, little CPU) when it is installed; otherwise this module's own asyncio generator,
raw HTTP/1.1 over asyncio streams, which costs the shared machine more CPU per request (the
report says which one ran, and how much CPU it used per request)."""

from __future__ import annotations

import asyncio
import json
import math
import os
import resource
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

from bench.portal import BenchError


@dataclass(frozen=True)
class Target:
    """One GraphQL POST, sent again and again."""

    url: str  # http://host:port/graphql
    body: bytes
    headers: dict[str, str]
    expected_length: int  # of the response body, as the check before timing saw it


@dataclass
class LoadResult:
    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    non_2xx: int  # HTTP status other than 2xx
    socket_errors: int
    other_length: int  # responses whose body length differs from the checked one
    generator_cpu_seconds: float

    @property
    def per_second(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


def wrk_path() -> str | None:
    """wrk, unless missing or BENCH_LOAD=python asks for the fallback."""
    return None if os.environ.get("BENCH_LOAD") == "python" else shutil.which("wrk")


def generator_name() -> str:
    path = wrk_path()
    if path is None:
        why = "BENCH_LOAD=python" if shutil.which("wrk") else "wrk is not installed"
        return f"Python asyncio closed loop in the bench process (bench/load.py; {why})"
    version = subprocess.run([path, "-v"], capture_output=True, text=True).stdout
    return f"{version.split(' Copyright')[0].strip() or path}, 1 thread"


def run_load(target: Target, connections: int, seconds: float) -> LoadResult:
    if wrk_path() is not None:
        return run_wrk(target, connections, seconds)
    return asyncio.run(closed_loop(target, connections, seconds))


def children_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def self_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


# --- wrk ----------------------------------------------------------------------------------

WRK_SCRIPT = """
wrk.method = "POST"
wrk.body = [==[{body}]==]
{headers}
local expected = {expected}
local threads = {{}}
function setup(thread) table.insert(threads, thread) end
function init(args) other_length = 0 end
function response(status, headers, body)
  if #body ~= expected then other_length = other_length + 1 end
end
function done(summary, latency, requests)
  local other = 0
  for _, thread in ipairs(threads) do other = other + thread:get("other_length") end
  local e = summary.errors
  io.write(string.format(
    '\\nRESULT {{"requests": %d, "duration_us": %d, "p50_us": %d, "p99_us": %d, '
    .. '"non_2xx": %d, "socket_errors": %d, "other_length": %d}}\\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    e.status, e.connect + e.read + e.write + e.timeout, other))
end
"""


def run_wrk(target: Target, connections: int, seconds: float) -> LoadResult:
    body = target.body.decode()
    if "]==]" in body:
        raise BenchError("request body cannot go into a Lua long string")
    headers = "\n".join(
        f'wrk.headers["{name}"] = [==[{value}]==]' for name, value in target.headers.items()
    )
    script = WRK_SCRIPT.format(body=body, headers=headers, expected=target.expected_length)
    with tempfile.NamedTemporaryFile("w", suffix=".lua", prefix="bench-") as file:
        file.write(script)
        file.flush()
        command = [
            wrk_path() or "wrk",
            "-t1",
            f"-c{connections}",
            f"-d{max(1, round(seconds))}s",
            "--timeout",
            "30s",
            "-s",
            file.name,
            target.url,
        ]
        cpu_before = children_cpu_seconds()
        done = subprocess.run(command, capture_output=True, text=True)
        cpu = children_cpu_seconds() - cpu_before
    line = next((x for x in done.stdout.splitlines() if x.startswith("RESULT ")), None)
    if done.returncode != 0 or line is None:
        raise BenchError(
            f"wrk failed ({done.returncode}): {done.stderr[-500:]}{done.stdout[-500:]}"
        )
    result = json.loads(line.removeprefix("RESULT "))
    return LoadResult(
        requests=result["requests"],
        seconds=result["duration_us"] / 1e6,
        p50_ms=result["p50_us"] / 1000,
        p99_ms=result["p99_us"] / 1000,
        non_2xx=result["non_2xx"],
        socket_errors=result["socket_errors"],
        other_length=result["other_length"],
        generator_cpu_seconds=cpu,
    )


# --- the Python fallback ------------------------------------------------------------------


def percentile(values: list[float], fraction: float) -> float:
    """Nearest rank: the smallest value with `fraction` of them at or below it."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)] if ordered else math.nan


async def read_response(reader: asyncio.StreamReader) -> tuple[int, int]:
    """One HTTP/1.1 response: (status, body length)."""
    status_line = await reader.readline()
    if not status_line:
        raise ConnectionError("connection closed")
    status = int(status_line.split(b" ", 2)[1])
    length = None
    chunked = False
    while (line := await reader.readline()) not in (b"\r\n", b"\n", b""):
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value)
        elif name == b"transfer-encoding" and b"chunked" in value.lower():
            chunked = True
    if not chunked:
        return status, len(await reader.readexactly(length or 0))
    total = 0
    while size := int((await reader.readline()).split(b";")[0], 16):
        total += len(await reader.readexactly(size))
        await reader.readexactly(2)
    await reader.readline()  # the blank line after the last chunk (no trailers sent)
    return status, total


async def closed_loop(target: Target, connections: int, seconds: float) -> LoadResult:
    parts = urlsplit(target.url)
    head = [f"POST {parts.path or '/'} HTTP/1.1", f"Host: {parts.netloc}"]
    head += [f"{name}: {value}" for name, value in target.headers.items()]
    head += [f"Content-Length: {len(target.body)}", "", ""]
    request = "\r\n".join(head).encode() + target.body
    latencies: list[float] = []
    counts = {"non_2xx": 0, "socket_errors": 0, "other_length": 0}
    started = time.perf_counter()
    stop_at = started + seconds

    async def connection() -> None:
        reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
        try:
            while time.perf_counter() < stop_at:
                sent = time.perf_counter()
                writer.write(request)
                status, length = await read_response(reader)
                latencies.append(time.perf_counter() - sent)
                counts["non_2xx"] += not 200 <= status < 300
                counts["other_length"] += length != target.expected_length
        except (ConnectionError, asyncio.IncompleteReadError):
            counts["socket_errors"] += 1
        finally:
            writer.close()

    cpu_before = self_cpu_seconds()
    await asyncio.gather(*(connection() for _ in range(connections)))
    elapsed = time.perf_counter() - started
    cpu = self_cpu_seconds() - cpu_before
    milliseconds = [x * 1000 for x in latencies]
    return LoadResult(
        requests=len(latencies),
        seconds=elapsed,
        p50_ms=percentile(milliseconds, 0.50),
        p99_ms=percentile(milliseconds, 0.99),
        generator_cpu_seconds=cpu,
        **counts,
    )
