"""GraphQL over HTTP as a client meets it: body limits and timeouts, malformed requests and
transport refusals as JSON errors, `application/graphql-response+json`, the conformance audit,
and a database that goes away and comes back."""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
import subprocess
import tempfile
from pathlib import Path
from urllib.parse import unquote

import httpx
import pytest

from config import Settings
from tests import factories
from tests.client import Api
from tests.conftest import RunningServer, free_port
from tests.mailbox import Mailbox

GRAPHQL_RESPONSE_JSON = "application/graphql-response+json"
STAFF_LOG_IN = (
    "mutation($e: String!, $p: String!) { staffLogIn(input: {email: $e, password: $p}) { token } }"
)


def request_error(response: httpx.Response) -> dict:
    """The one error of a refused request: a JSON GraphQL error, with no `data` key."""
    assert response.headers["content-type"].startswith("application/"), response.text
    body = response.json()
    assert "data" not in body, body
    [error] = body["errors"]
    return error


async def raw_exchange(
    url: str, head: str, parts: list[bytes] = (), *, pause: float = 0.0, patience: float = 20
) -> tuple[int, dict[str, str], bytes]:
    """Send a request's head and body parts over a bare socket (stopping if the server has
    answered and closed), then read the response: status, headers, body."""
    host, port = url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    try:
        writer.write(head.encode())
        for part in parts:
            try:
                writer.write(part)
                await writer.drain()
            except ConnectionError:
                break
            if pause:
                await asyncio.sleep(pause)
        async with asyncio.timeout(patience):
            status_line = await reader.readline()
            headers = {}
            while (line := await reader.readline()) not in (b"\r\n", b""):
                name, _, value = line.decode().partition(":")
                headers[name.strip().lower()] = value.strip()
            body = await reader.readexactly(int(headers.get("content-length", "0")))
        return int(status_line.split()[1]), headers, body
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()


def post_head(length: int | None, content_type: str = "application/json", extra: str = "") -> str:
    size = f"Content-Length: {length}\r\n" if length is not None else ""
    chunked = "Transfer-Encoding: chunked\r\n" if length is None else ""
    return (
        f"POST /graphql HTTP/1.1\r\nHost: test\r\nContent-Type: {content_type}\r\n"
        f"{size}{chunked}{extra}\r\n"
    )


# ---- size and time -------------------------------------------------------------------------


async def test_a_body_declared_too_big_is_refused_before_it_is_read(api: Api) -> None:
    # Given a 20 MB body announced by its Content-Length, of which nothing is sent
    status, _, body = await raw_exchange(str(api.http.base_url), post_head(20_000_000))
    # Then the answer comes from the headers alone
    assert status == 413
    error = json.loads(body)["errors"][0]
    assert error["extensions"] == {"code": "BAD_USER_INPUT"}
    assert "larger than 1000000 bytes" in error["message"]


async def test_a_document_or_variables_over_the_limit_are_refused(api: Api) -> None:
    comment = "#" + "x" * 2_000_000 + "\n{ __typename }"
    response = await api.http.post("/graphql", json={"query": comment})
    assert response.status_code == 413
    assert request_error(response)["extensions"]["code"] == "BAD_USER_INPUT"
    variables = {"v": "x" * 20_000_000}
    response = await api.http.post(
        "/graphql", json={"query": "query($v: String) { __typename }", "variables": variables}
    )
    assert response.status_code == 413


async def test_a_chunked_body_is_refused_once_it_passes_the_limit(api: Api) -> None:
    chunk = b"x" * 65_536
    parts = [b"%x\r\n%s\r\n" % (len(chunk), chunk)] * 40  # 2.6 MB, never finished
    status, _, body = await raw_exchange(str(api.http.base_url), post_head(None), parts)
    assert status == 413
    assert json.loads(body)["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_a_big_document_under_the_limit_is_parsed_and_answered(api: Api) -> None:
    # 900 kB of comment: parsed in a worker thread (schema/parsing.py), answered as usual.
    query = "#" + "x" * 900_000 + "\n{ __typename }"
    assert await api.gql(query) == {"__typename": "Query"}


async def test_healthz_answers_while_a_body_is_still_arriving(api: Api) -> None:
    # Given a request whose body dribbles in
    dribble = asyncio.create_task(
        raw_exchange(str(api.http.base_url), post_head(100), [b"{"] * 5, pause=0.2)
    )
    await asyncio.sleep(0.1)
    # Then the server answers others meanwhile
    assert not dribble.done()
    assert (await api.http.get("/healthz")).status_code == 200
    assert not dribble.done()
    dribble.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await dribble


async def test_a_body_that_never_finishes_is_cut_off(
    server_settings: Settings,
    start_server,
    clean: None,
) -> None:
    slow = await start_server(
        server_settings.model_copy(update={"PORT": free_port(), "REQUEST_BODY_TIMEOUT_SECONDS": 1})
    )
    # Headers, then half a body, then nothing
    status, _, body = await raw_exchange(slow.url, post_head(100), [b'{"query": '], patience=10)
    assert status == 408
    error = json.loads(body)["errors"][0]
    assert error["extensions"] == {"code": "BAD_USER_INPUT"}
    assert "did not arrive within 1 seconds" in error["message"]


# ---- uploads are for staff -----------------------------------------------------------------

MULTIPART = {
    "operations": (None, json.dumps({"query": "{ __typename }"})),
    "map": (None, "{}"),
}


async def test_an_anonymous_multipart_body_is_refused_unread(api: Api) -> None:
    boundary = "x" * 16
    head = post_head(30_000_000, f"multipart/form-data; boundary={boundary}")
    status, _, body = await raw_exchange(str(api.http.base_url), head)
    assert status == 401
    assert json.loads(body)["errors"][0]["extensions"] == {"code": "UNAUTHENTICATED"}


async def test_multipart_is_for_staff(api: Api, mailbox: Mailbox) -> None:
    staff = await factories.register(api)
    customer = await factories.portal_customer(api, mailbox, staff)

    response = await api.http.post(
        "/graphql", files=MULTIPART, headers={"Authorization": f"Bearer {customer.token}"}
    )
    assert response.status_code == 403
    assert request_error(response)["extensions"] == {"code": "FORBIDDEN"}

    response = await api.http.post(
        "/graphql", files=MULTIPART, headers={"Authorization": f"Bearer {staff.token}"}
    )
    assert response.status_code == 200
    assert response.json() == {"data": {"__typename": "Query"}}

    # A map into a variable that is null (no list or object to put a file in)
    operations = {"query": "query($f: String) { __typename }", "variables": {"f": None}}
    response = await api.http.post(
        "/graphql",
        files={
            "operations": (None, json.dumps(operations)),
            "map": (None, json.dumps({"0": ["variables.f.0"]})),
            "0": ("a.txt", b"hello", "text/plain"),
        },
        headers={"Authorization": f"Bearer {staff.token}"},
    )
    assert response.status_code == 400
    assert request_error(response)["extensions"] == {"code": "BAD_USER_INPUT"}


# ---- malformed requests and transport refusals: JSON, never plain text ----------------------


@pytest.mark.parametrize(
    "body",
    [
        b'"x"',
        b"1",
        b"null",
        b'{"query": "\xff{ __typename }"}',  # not UTF-8
        b'{"query": "{ __typename }", "variables": {"v": '
        + b"[" * 100_000
        + b"]" * 100_000
        + b"}}",
        b'{"query": "query($v: String) { __typename }", "variables": {"v": '
        + b"[" * 50
        + b"]" * 50
        + b"}}",
    ],
    ids=["string", "number", "null", "invalid-utf8", "nested-100000", "nested-50"],
)
async def test_a_malformed_body_is_a_400_with_a_json_error(api: Api, body: bytes) -> None:
    response = await api.http.post(
        "/graphql", content=body, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400
    assert request_error(response)["extensions"] == {"code": "BAD_USER_INPUT"}
    # The connection stays usable (a 500 used to drop it)
    assert (await api.http.get("/healthz")).status_code == 200


async def test_transport_refusals_are_json_errors_with_their_status(api: Api) -> None:
    refusals = [
        api.http.post("/graphql", json={"query": "query A { __typename }", "operationName": "B"}),
        api.http.post("/graphql", json=[{"query": "{ __typename }"}]),
        api.http.get("/graphql", params={"query": "mutation { logOut }"}),
        api.http.post("/graphql", content=b"{ __typename }", headers={"Content-Type": "text/x"}),
    ]
    for response in await asyncio.gather(*refusals):
        assert response.status_code == 400, response.text
        assert response.headers["content-type"] == "application/json"
        assert request_error(response)["extensions"] == {"code": "BAD_USER_INPUT"}


async def test_several_operations_need_an_operation_name(api: Api) -> None:
    document = "query A { a: __typename } query B { b: __typename }"
    response = await api.http.post("/graphql", json={"query": document})
    [error] = response.json()["errors"]
    assert error["extensions"] == {"code": "BAD_USER_INPUT"}
    assert "operationName" in error["message"]
    response = await api.http.post("/graphql", json={"query": document, "operationName": "B"})
    assert response.json() == {"data": {"b": "Query"}}


# ---- application/graphql-response+json -----------------------------------------------------


@pytest.mark.parametrize(
    "payload",
    [
        {"query": "{ viewer "},  # does not parse
        {"query": "{ nope }"},  # does not validate
        {"query": "query($n: Int!) { __typename }", "variables": {"n": "one"}},  # coercion
        {"query": "query A { a: __typename } query B { b: __typename }"},  # which one?
    ],
    ids=["parse", "validation", "variables", "no-operation-name"],
)
async def test_request_errors_in_graphql_response_json_are_400_without_data(
    api: Api, payload: dict
) -> None:
    accept = {"Accept": f"{GRAPHQL_RESPONSE_JSON}, application/json;q=0.9"}
    response = await api.http.post("/graphql", json=payload, headers=accept)
    assert response.status_code == 400
    assert response.headers["content-type"] == GRAPHQL_RESPONSE_JSON
    assert request_error(response)["extensions"]["code"] == "BAD_USER_INPUT"
    # application/json keeps its 200 (and `"data": null`)
    legacy = await api.http.post("/graphql", json=payload)
    assert legacy.status_code == 200
    assert legacy.headers["content-type"] == "application/json"
    assert legacy.json()["data"] is None


async def test_a_client_that_accepts_graphql_response_json_gets_it(api: Api) -> None:
    response = await api.http.post(
        "/graphql", json={"query": "{ __typename }"}, headers={"Accept": GRAPHQL_RESPONSE_JSON}
    )
    assert response.status_code == 200
    assert response.headers["content-type"] == GRAPHQL_RESPONSE_JSON
    assert response.json() == {"data": {"__typename": "Query"}}
    refused = await api.http.post(
        "/graphql", content=b"1", headers={"Accept": GRAPHQL_RESPONSE_JSON}
    )
    assert refused.status_code == 400
    assert refused.headers["content-type"] == GRAPHQL_RESPONSE_JSON


AUDIT_DIR = Path.home() / ".cache" / "portal-graphql-http"


def audit_tool() -> Path:
    """graphql-http in a cache directory, installed by npm the first time."""
    if not (shutil.which("node") and shutil.which("npm")):
        pytest.skip("graphql-http audit skipped: Node.js and npm are not installed")
    AUDIT_DIR.mkdir(parents=True, exist_ok=True)
    if not (AUDIT_DIR / "node_modules" / "graphql-http").is_dir():
        (AUDIT_DIR / "package.json").write_text('{"private": true, "type": "module"}\n')
        installed = subprocess.run(
            ["npm", "install", "--no-audit", "--no-fund", "graphql-http@1", "graphql@16"],
            cwd=AUDIT_DIR,
            capture_output=True,
            text=True,
            timeout=180,
        )
        if installed.returncode != 0:
            pytest.skip(
                f"graphql-http audit skipped: npm install failed: {installed.stderr[-500:]}"
            )
    script = AUDIT_DIR / "audit.mjs"
    shutil.copy(Path(__file__).with_name("graphql_http_audit.mjs"), script)
    return script


async def test_graphql_over_http_conformance_audit(api: Api) -> None:
    """graphql-http's auditServer: every MUST and every SHOULD passes."""
    script = audit_tool()
    process = await asyncio.create_subprocess_exec(
        "node",
        str(script),
        f"{api.http.base_url}/graphql",
        cwd=AUDIT_DIR,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 120)
    assert process.returncode == 0, err.decode()
    results = json.loads(out)
    failed = [f"{r['id']} {r['name']}: {r['reason']}" for r in results if r["status"] != "ok"]
    assert len(results) >= 61
    assert not failed, "\n".join(failed)


# ---- the database goes away and comes back -------------------------------------------------


class SocketProxy:
    """A Unix socket that forwards to PostgreSQL's, which the test can cut and restore."""

    def __init__(self, target: str) -> None:
        self.target = target
        self.directory = tempfile.mkdtemp(prefix="pg-proxy-")
        self.path = str(Path(self.directory) / Path(target).name)
        self._server: asyncio.AbstractServer | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_unix_server(self._forward, self.path)

    async def cut(self) -> None:
        """No new connections, and the open ones drop (as when PostgreSQL goes down)."""
        assert self._server is not None
        self._server.close()
        for writer in list(self._writers):
            writer.transport.abort()
        await self._server.wait_closed()

    async def _forward(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        upstream_reader, upstream_writer = await asyncio.open_unix_connection(self.target)
        self._writers |= {writer, upstream_writer}

        async def pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
            try:
                while data := await source.read(65_536):
                    sink.write(data)
                    await sink.drain()
            except ConnectionError:
                pass
            finally:
                sink.transport.abort()

        try:
            await asyncio.gather(pipe(reader, upstream_writer), pipe(upstream_reader, writer))
        finally:
            self._writers -= {writer, upstream_writer}


def through(url: str, proxy: SocketProxy) -> str:
    """`url` (a Unix-socket DSN) going through the proxy's directory instead."""
    base, _, _ = url.partition("?")
    return f"{base}?host={proxy.directory}"


@pytest.fixture
def postgres_socket(server_settings: Settings) -> str:
    directory = server_settings.DATABASE_APP_URL.partition("?host=")[2]
    sockets = [p for p in Path(unquote(directory)).glob(".s.PGSQL.*") if p.suffix != ".lock"]
    assert len(sockets) == 1, sockets
    return str(sockets[0])


async def test_with_the_database_down_requests_fail_as_json_and_recover(
    server_settings: Settings,
    start_server,
    clean: None,
    postgres_socket: str,
) -> None:
    # Given a server whose database connections pass through a proxy we can cut
    proxy = SocketProxy(postgres_socket)
    await proxy.start()
    update = {
        "PORT": free_port(),
        "DATABASE_URL": through(server_settings.DATABASE_URL, proxy),
        "DATABASE_APP_URL": through(server_settings.DATABASE_APP_URL, proxy),
    }
    if "SESSION_CACHE_SECONDS" in Settings.model_fields:
        update["SESSION_CACHE_SECONDS"] = 0  # every request asks the database about its session
    settings = server_settings.model_copy(update=update)
    server: RunningServer = await start_server(settings)
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
        api = Api(http)
        staff = await factories.register(api)
        bearer = {"Authorization": f"Bearer {staff.token}"}
        viewer = {"query": "{ viewer { __typename } }"}
        sign_in = {"query": STAFF_LOG_IN, "variables": {"e": staff.email, "p": factories.PASSWORD}}

        # When the database goes away
        await proxy.cut()

        # Then an authenticated request is a masked error in JSON, with its request id
        response = await http.post("/graphql", json=viewer, headers=bearer)
        assert response.status_code == 500
        [error] = response.json()["errors"]
        assert error["extensions"]["code"] == "INTERNAL_SERVER_ERROR"
        assert error["extensions"]["requestId"]
        # a sign-in is an internal error, not a lockout
        response = await http.post("/graphql", json=sign_in)
        [error] = response.json()["errors"]
        assert error["extensions"]["code"] == "INTERNAL_SERVER_ERROR"
        assert error["extensions"]["requestId"]
        # readiness says so, liveness does not
        assert (await http.get("/readyz")).status_code == 503
        assert (await http.get("/healthz")).status_code == 200

        # When it comes back, the same server recovers without a restart
        await proxy.start()
        for _ in range(50):
            if (await http.get("/readyz")).status_code == 200:
                break
            await asyncio.sleep(0.1)
        response = await http.post("/graphql", json=viewer, headers=bearer)
        assert response.json() == {"data": {"viewer": {"__typename": "StaffMember"}}}
        response = await http.post("/graphql", json=sign_in)
        assert response.json()["data"]["staffLogIn"]["token"]
