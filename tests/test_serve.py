"""`make run`'s entry point as a user meets it: start, serve, Ctrl-C, start again."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import httpx
import psutil

import embedded
from tests import factories
from tests.client import Api
from tests.conftest import free_port

ROOT = Path(__file__).resolve().parent.parent


async def start(env: dict[str, str]) -> tuple[asyncio.subprocess.Process, str]:
    port = free_port()
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "serve",
        cwd=ROOT,
        env={**os.environ, "HOST": "127.0.0.1", "PORT": str(port), "LOG_LEVEL": "WARNING", **env},
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
