"""Benchmark: does a failed sign-in's timing tell whether the account exists?

Starts the server as `make run` does (fresh DATA_DIR, embedded PostgreSQL), makes one
business with an active portal customer and an invited (not yet accepted) one, then times
`portalLogIn` failures of each kind, interleaved, each from its own client address so the
lockout never triggers (TRUSTED_PROXY_HOPS=1, X-Forwarded-For), plus `requestPasswordReset`
for an existing and a missing account. Prints the median and spread of each; asserts nothing.

Run: `.venv/bin/python bench/sign_in_timing.py` from the repo root.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

REPO_ROOT = Path(__file__).resolve().parent.parent
PYTHON = REPO_ROOT / ".venv" / "bin" / "python"
ROUNDS = 40
PASSWORD = "correct horse battery staple"

LOG_IN = """mutation($i: PortalLogInInput!) { portalLogIn(input: $i) { token } }"""
RESET = """mutation($i: RequestPasswordResetInput!) { requestPasswordReset(input: $i) }"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


async def gql(client: httpx.AsyncClient, query: str, variables: dict, **headers: str) -> dict:
    response = await client.post(
        "/graphql", json={"query": query, "variables": variables}, headers=headers
    )
    return response.json()


async def setup(client: httpx.AsyncClient, outbox: Path) -> tuple[str, str, str]:
    body = await gql(
        client,
        "mutation($i: RegisterBusinessInput!) { registerBusiness(input: $i) {"
        " token viewer { ... on StaffMember { business { slug } } } } }",
        {
            "i": {
                "businessName": "Timing",
                "ownerName": "O",
                "email": "o@example.com",
                "password": PASSWORD,
            }
        },
    )
    token = body["data"]["registerBusiness"]["token"]
    slug = body["data"]["registerBusiness"]["viewer"]["business"]["slug"]
    auth = {"Authorization": f"Bearer {token}"}
    emails = []
    for name in ("active", "invited"):
        made = await gql(
            client,
            "mutation($i: CreateCustomerInput!) { createCustomer(input: $i) { id } }",
            {"i": {"name": name, "email": f"{name}@example.com"}},
            **auth,
        )
        customer = made["data"]["createCustomer"]["id"]
        await gql(
            client,
            "mutation($c: ID!) { inviteCustomerToPortal(customerId: $c) { id } }",
            {"c": customer},
            **auth,
        )
        emails.append(f"{name}@example.com")
    # accept the active customer's invitation from the outbox
    texts = await asyncio.to_thread(lambda: [p.read_text() for p in outbox.glob("*.eml")])
    message = next(text for text in texts if "active@example.com" in text)
    invitation = re.search(r"token=([A-Za-z0-9_\-]+)", message).group(1)
    await gql(
        client,
        "mutation($i: AcceptPortalInvitationInput!) {"
        " acceptPortalInvitation(input: $i) { token } }",
        {"i": {"token": invitation, "password": PASSWORD}},
    )
    return slug, emails[0], emails[1]


async def measure(
    client: httpx.AsyncClient, slug: str, active: str, invited: str
) -> dict[str, list[float]]:
    cases = {
        "wrong password (account exists)": (
            LOG_IN,
            {"businessSlug": slug, "email": active, "password": "not the password"},
        ),
        "unknown email": (
            LOG_IN,
            {"businessSlug": slug, "email": "nobody@example.com", "password": "not the password"},
        ),
        "invited, not yet accepted": (
            LOG_IN,
            {"businessSlug": slug, "email": invited, "password": PASSWORD},
        ),
        "unknown business": (
            LOG_IN,
            {"businessSlug": "no-such-business", "email": active, "password": PASSWORD},
        ),
        "reset: active account": (RESET, {"businessSlug": slug, "email": active}),
        "reset: unknown account": (RESET, {"businessSlug": slug, "email": "nobody@example.com"}),
    }
    timings: dict[str, list[float]] = {name: [] for name in cases}
    outcomes: dict[str, set[str]] = {}
    address = 0
    for _ in range(ROUNDS):
        for name, (query, variables) in cases.items():  # interleaved, so drift hits all alike
            address += 1
            ip = f"10.{address // 65536 % 256}.{address // 256 % 256}.{address % 256}"
            started = time.perf_counter()
            body = await gql(client, query, {"i": variables}, **{"X-Forwarded-For": ip})
            outcomes.setdefault(name, set()).add(
                body["errors"][0]["extensions"]["code"] if body.get("errors") else "ok"
            )
            timings[name].append((time.perf_counter() - started) * 1000)
    for name, seen in outcomes.items():  # a refusal for another reason would skew it all
        expected = {"ok"} if name.startswith("reset") else {"UNAUTHENTICATED"}
        if seen != expected:
            raise SystemExit(f"{name}: expected {expected}, got {seen}")
    return timings


async def run(port: int, outbox: Path) -> dict[str, list[float]]:
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
        for _ in range(200):
            try:
                if (await client.get("/healthz")).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.1)
        slug, active, invited = await setup(client, outbox)
        return await measure(client, slug, active, invited)


def main() -> None:
    data_dir = Path(tempfile.mkdtemp(prefix="portal-bench-"))
    port = free_port()
    env = {
        **os.environ,
        "DATA_DIR": str(data_dir),
        "PORT": str(port),
        "HOST": "127.0.0.1",
        "LOG_LEVEL": "WARNING",
        "TRUSTED_PROXY_HOPS": "1",
        # Every attempt from its own address and no lockout: only the failure's kind varies.
        "LOGIN_IP_FAILURE_LIMIT": "1000",
        "LOGIN_ACCOUNT_FAILURE_LIMIT": "1000",
    }
    server = subprocess.Popen([str(PYTHON), "-m", "serve"], cwd=REPO_ROOT, env=env)
    try:
        timings = asyncio.run(run(port, data_dir / "outbox"))
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(timeout=30)
        shutil.rmtree(data_dir, ignore_errors=True)
    python = sys.version.split()[0]
    print(f"Sign-in failure timing, {ROUNDS} rounds, ms over HTTP")
    print(f"({os.cpu_count()} CPUs, Python {python}; load generator on the same machine)")
    print(f"  {'case':36} {'median':>8} {'p10':>8} {'p90':>8}")
    for name, values in timings.items():
        deciles = statistics.quantiles(values, n=10)
        median = statistics.median(values)
        print(f"  {name:36} {median:8.1f} {deciles[0]:8.1f} {deciles[-1]:8.1f}")


if __name__ == "__main__":
    main()
