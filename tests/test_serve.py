"""`make run`'s entry point as a user meets it: start, serve, Ctrl-C, start again; and as
docker stop, systemd and Kubernetes meet it: SIGTERM."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from pathlib import Path
from typing import IO

import httpx
import psutil

import embedded
from tests import factories
from tests.client import Api
from tests.conftest import free_port

ROOT = Path(__file__).resolve().parent.parent


async def start(
    env: dict[str, str], stderr: IO[bytes] | None = None
) -> tuple[asyncio.subprocess.Process, str]:
    port = free_port()
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "serve",
        cwd=ROOT,
        env={**os.environ, "HOST": "127.0.0.1", "PORT": str(port), "LOG_LEVEL": "WARNING", **env},
        stderr=stderr,
    )
    url = f"http://127.0.0.1:{port}"
    async with httpx.AsyncClient(base_url=url) as http:
        for _ in range(600):
            if process.returncode is not None:
                raise AssertionError(f"serve exited with {process.returncode}")
            try:
                if (await http.get("/readyz")).status_code == 200:
                    return process, url
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.1)
    process.kill()
    raise AssertionError("serve did not become ready in 60 s")


async def interrupt(process: asyncio.subprocess.Process) -> int:
    process.send_signal(signal.SIGINT)  # what Ctrl-C sends
    return await asyncio.wait_for(process.wait(), timeout=60)


def postmaster_pid(pgdata: Path) -> int | None:
    """The running postmaster of pgdata, from the pid file it keeps while it runs."""
    try:
        pid = int((pgdata / "postmaster.pid").read_text().splitlines()[0])
    except (FileNotFoundError, IndexError, ValueError):
        return None
    return pid if psutil.pid_exists(pid) else None


async def postmaster_gone(pgdata: Path, deadline: float) -> bool:
    while postmaster_pid(pgdata) is not None or postgres_running_in(pgdata):
        if asyncio.get_running_loop().time() > deadline:
            return False
        await asyncio.sleep(0.1)
    return True


def logged(log: Path) -> str:
    return log.read_text()


async def wait_for_line(log: Path, text: str, process: asyncio.subprocess.Process) -> None:
    for _ in range(1000):
        if text in logged(log) or process.returncode is not None:
            return
        await asyncio.sleep(0.01)


def kill_leftovers(process: asyncio.subprocess.Process, pgdata: Path) -> None:
    """After a failed assertion, leave no server and no postmaster behind on a shared machine."""
    if process.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
    pid = postmaster_pid(pgdata)
    if pid is not None:
        os.kill(pid, signal.SIGQUIT)  # PostgreSQL's immediate shutdown


def postgres_running_in(data_dir: Path) -> bool:
    for proc in psutil.process_iter(["name", "cmdline"]):
        if proc.info["name"] == "postgres" and str(data_dir) in " ".join(
            proc.info["cmdline"] or ()
        ):
            return True
    return False


async def test_embedded_default_starts_stops_cleanly_and_keeps_data(tmp_path: Path) -> None:
    env = {"DATA_DIR": str(tmp_path)}
    process, url = await start(env)
    try:
        async with httpx.AsyncClient(base_url=url) as http:
            staff = await factories.register(Api(http), "Persistent Co", email="keep@example.com")
            graphiql = await http.get("/graphql", headers={"Accept": "text/html"})
            assert graphiql.status_code == 200
    finally:
        assert await interrupt(process) == 0
    assert not postgres_running_in(tmp_path / "postgres")

    # a second start finds the data again
    process, url = await start(env)
    try:
        async with httpx.AsyncClient(base_url=url) as http:
            data = await Api(http).gql(
                'mutation { staffLogIn(input: {email: "keep@example.com", '
                f'password: "{factories.PASSWORD}"}}) {{ viewer {{ ... on StaffMember '
                "{ business { slug } } } } }"
            )
        assert data["staffLogIn"]["viewer"]["business"]["slug"] == staff.slug
    finally:
        assert await interrupt(process) == 0
    assert not postgres_running_in(tmp_path / "postgres")


async def test_an_existing_database_by_url_alone(
    database: embedded.EmbeddedDatabase, clean: None, tmp_path: Path
) -> None:
    # DATABASE_URL over a Unix socket, no DATABASE_APP_URL: the server acts as portal_app
    process, url = await start({"DATABASE_URL": database.owner_url, "DATA_DIR": str(tmp_path)})
    try:
        async with httpx.AsyncClient(base_url=url) as http:
            api = Api(http)
            staff = await factories.register(api)
            made = await factories.customer(api, staff, "Via URL")
            assert made["name"] == "Via URL"
    finally:
        assert await interrupt(process) == 0
    assert not (tmp_path / "postgres").exists()


SIGN_IN = """
mutation SignIn($email: String!, $password: String!) {
  staffLogIn(input: {email: $email, password: $password}) {
    viewer { ... on StaffMember { business { slug } } }
  }
}
"""


async def test_sigterm_stops_the_embedded_database_and_keeps_data(tmp_path: Path) -> None:
    # given a server on the embedded default, with a business registered
    pgdata = tmp_path / "data" / "postgres"
    env = {"DATA_DIR": str(tmp_path / "data"), "LOG_LEVEL": "INFO"}
    log = tmp_path / "serve.log"
    with log.open("wb") as stderr:
        process, url = await start(env, stderr=stderr)
    try:
        async with httpx.AsyncClient(base_url=url) as http:
            staff = await factories.register(Api(http), "Terminated Co", email="term@example.com")
        assert postmaster_pid(pgdata) is not None

        # when docker stop, systemd or Kubernetes stops it
        process.send_signal(signal.SIGTERM)
        deadline = asyncio.get_running_loop().time() + 10
        status = await asyncio.wait_for(process.wait(), timeout=10)

        # then the database stops with it, in time, and the exit is a clean one
        assert await postmaster_gone(pgdata, deadline), "postmaster still running after 10 s"
        assert status == 0
        assert "stopping embedded PostgreSQL" in logged(log)
    finally:
        kill_leftovers(process, pgdata)

    # and the next start finds the data again
    process, url = await start(env)
    try:
        async with httpx.AsyncClient(base_url=url) as http:
            data = await Api(http).gql(
                SIGN_IN, {"email": "term@example.com", "password": factories.PASSWORD}
            )
        assert data["staffLogIn"]["viewer"]["business"]["slug"] == staff.slug
        process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(process.wait(), timeout=10) == 0
        assert await postmaster_gone(pgdata, asyncio.get_running_loop().time() + 10)
    finally:
        kill_leftovers(process, pgdata)


async def test_a_second_signal_does_not_cut_the_database_stop_short(tmp_path: Path) -> None:
    # given a server stopping its embedded database after SIGTERM
    pgdata = tmp_path / "data" / "postgres"
    env = {"DATA_DIR": str(tmp_path / "data"), "LOG_LEVEL": "INFO"}
    log = tmp_path / "serve.log"
    with log.open("wb") as stderr:
        process, _ = await start(env, stderr=stderr)
    try:
        process.send_signal(signal.SIGTERM)
        await wait_for_line(log, "stopping embedded PostgreSQL", process)
        assert process.returncode is None, "serve exited without stopping its database"

        # when an impatient operator presses Ctrl-C during that stop
        process.send_signal(signal.SIGINT)

        # then the stop still completes, and the process still exits cleanly
        assert await asyncio.wait_for(process.wait(), timeout=10) == 0
        assert await postmaster_gone(pgdata, asyncio.get_running_loop().time() + 10)
        assert "SIGINT ignored: already stopping" in logged(log)
        assert "embedded PostgreSQL stopped" in logged(log)
    finally:
        kill_leftovers(process, pgdata)


def test_the_access_log_keeps_no_query_string() -> None:
    # An emailed link's token travels in the query string; the access log must not keep it.
    import logging

    from serve import without_query

    record = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5000", "GET", "/portal/acme/accept-invite?token=sekrit", "1.1", 200),
        None,
    )
    assert without_query(record)
    assert "sekrit" not in record.getMessage()
    assert "/portal/acme/accept-invite?…" in record.getMessage()
