"""Photo upload throughput: 4 MB JPEGs through `uploadJobPhoto` (multipart), one at a time and
8 at once, against a fresh portal server (local storage under its DATA_DIR); prints photos/s
and the server process's resident memory (sampled from /proc while the uploads run).

    .venv/bin/python -m bench.uploads      (BENCH_UPLOADS: photos per run, default 24)
"""

from __future__ import annotations

import asyncio
import io
import os
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
from PIL import Image

from bench.portal import (
    BenchError,
    server_log_tail,
    start_server,
    stop_server,
    wait_until_healthy,
)
from bench.seed import graphql, register_business, upload_photo

UPLOADS = int(os.environ.get("BENCH_UPLOADS", "24"))
TARGET_BYTES = 4 * 1024 * 1024


def four_mb_jpeg() -> bytes:
    """A camera-sized (4032 × 3024) JPEG of noise-like detail, about 4 MB."""
    width, height = 4032, 3024
    noise = Image.effect_noise((width // 2, height // 2), 64).convert("RGB")
    image = noise.resize((width, height))
    for quality in (92, 88, 84, 80, 75, 70):
        out = io.BytesIO()
        image.save(out, "JPEG", quality=quality)
        if out.tell() <= TARGET_BYTES * 1.1:
            break
    return out.getvalue()


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


class Sampler:
    """The highest RSS of `pid` while running, sampled every 20 ms in a thread."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peak = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, rss_mb(self.pid))
            time.sleep(0.02)

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


async def run(base_url: str, pid: int) -> None:
    photo = four_mb_jpeg()
    async with httpx.AsyncClient(base_url=base_url, timeout=300) as client:
        token = await register_business(client)
        customer = await graphql(
            client,
            'mutation { createCustomer(input: {name: "Una Upload"}) { id } }',
            token=token,
        )
        job = await graphql(
            client,
            'mutation($c: ID!) { createJob(input: {customerId: $c, title: "Photos"}) { id } }',
            {"c": customer["createCustomer"]["id"]},
            token,
        )
        job_id = job["createJob"]["id"]
        await upload_photo(client, token, job_id, photo, "warm-up")
        idle = rss_mb(pid)
        print(f"  photo: {len(photo) / 1e6:.1f} MB JPEG, 4032 × 3024")
        print(f"  server RSS after warm-up        {idle:7.0f} MB")

        for concurrency in (1, 8):
            gate = asyncio.Semaphore(concurrency)

            async def one(n: int, gate: asyncio.Semaphore = gate) -> None:
                async with gate:
                    await upload_photo(client, token, job_id, photo, f"photo {n}")

            with Sampler(pid) as sampler:
                started = time.perf_counter()
                await asyncio.gather(*(one(n) for n in range(UPLOADS)))
                seconds = time.perf_counter() - started
            print(
                f"  {concurrency} at a time: {UPLOADS / seconds:5.2f} photos/s"
                f" ({UPLOADS} in {seconds:.1f} s), peak server RSS {sampler.peak:5.0f} MB"
            )


def main() -> int:
    workdir = Path(tempfile.mkdtemp(prefix="portal-bench-uploads-"))
    server = start_server(workdir)
    try:
        print("Uploads (uploadJobPhoto, multipart, local storage)")
        wait_until_healthy(server)
        asyncio.run(run(server.base_url, server.pid))
        print(f"  cores: {os.cpu_count()}")
    except BenchError as exc:
        print(f"!! benchmark failed: {exc}", file=sys.stderr)
        print("\n".join(server_log_tail(server)), file=sys.stderr)
        return 1
    finally:
        stop_server(server)
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
