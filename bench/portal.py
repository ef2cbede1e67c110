"""The portal server under test, started as `make run` starts it: `python -m serve` with a
fresh DATA_DIR (embedded PostgreSQL) on a free port, SERVER_TIMING=1 so every GraphQL
response carries a `Server-Timing` header (SQL statements, and the read path once it names
it), stopped with SIGINT as Ctrl-C stops it, so it also stops its PostgreSQL."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

REPO_ROOT = Path(__file__).resolve().parent.parent
VENV_PYTHON = REPO_ROOT / ".venv" / "bin" / "python"
PYTHON = VENV_PYTHON if VENV_PYTHON.exists() else Path(sys.executable)


class BenchError(RuntimeError):
    """A server or the database did something the benchmark cannot go on from."""


@dataclass
class Server:
    process: subprocess.Popen
    base_url: str
    data_dir: Path
    log_path: Path

    @property
    def pid(self) -> int:
        return self.process.pid


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
