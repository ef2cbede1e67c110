"""The test's GraphQL client: one helper that fails on unexpected errors, one that expects them."""

from __future__ import annotations

import json
import re
from typing import Any

import graphql
import httpx


class GraphQLErrors(AssertionError):
    def __init__(self, errors: list[dict]) -> None:
        super().__init__(errors)
        self.errors = errors


class Api:
    def __init__(self, http: httpx.AsyncClient, executed: httpx.AsyncClient | None = None) -> None:
        self.http = http
        # A server with the compiled read path off: every query is asked of both.
        self.executed = executed
        # How each query was answered by `http` (from Server-Timing): the read-path tests
        # check the compiled path really answered.
        self.read_paths: list[str] = []

    async def post(
        self,
        query: str,
        variables: dict | None = None,
        *,
        token: str | None = None,
        ip: str | None = None,
    ) -> dict[str, Any]:
        # ASCII-escaped JSON, as browsers send it: any string (even a lone surrogate) travels
        headers = {"Content-Type": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        if ip:
            headers["X-Forwarded-For"] = ip
        body = json.dumps({"query": query, "variables": variables or {}})
        response = await self.http.post("/graphql", content=body, headers=headers)
        assert response.status_code == 200, response.text
        answer = response.json()
        if self.executed is not None and is_query(query):
            self.read_paths.append(read_path(response))
            executed = await self.executed.post("/graphql", content=body, headers=headers)
            assert read_path(executed) == "executed"
            assert comparable(answer) == comparable(executed.json()), (
                f"the read paths differ for {query!r}: compiled {answer}, "
                f"executed {executed.json()}"
            )
        return answer

    async def gql(
        self, query: str, variables: dict | None = None, *, token: str | None = None, **kw: Any
    ) -> dict[str, Any]:
        body = await self.post(query, variables, token=token, **kw)
        if body.get("errors"):
            raise GraphQLErrors(body["errors"])
        return body["data"]

    async def error(
        self, query: str, variables: dict | None = None, *, token: str | None = None, **kw: Any
    ) -> dict[str, Any]:
        """The one error the document must produce."""
        body = await self.post(query, variables, token=token, **kw)
        errors = body.get("errors") or []
        assert len(errors) == 1, f"expected one error, got {body}"
        return errors[0]


def is_query(document: str) -> bool:
    """Whether `document` is one query operation (what the compiled read path may answer)."""
    try:
        parsed = graphql.parse(document)
    except graphql.GraphQLError:
        return False
    operations = [d for d in parsed.definitions if isinstance(d, graphql.OperationDefinitionNode)]
    return len(operations) == 1 and operations[0].operation is graphql.OperationType.QUERY


def read_path(response: httpx.Response) -> str:
    timing = response.headers.get("server-timing", "")
    return "compiled" if "compiled" in timing else "executed"


def comparable(answer: dict) -> dict:
    """The answer without what differs by nature between two requests (request ids, and the
    expiry and signature of signed URLs, made at two moments: the key must still match)."""
    for error in answer.get("errors") or ():
        (error.get("extensions") or {}).pop("requestId", None)
    return _unsigned(answer)


_SIGNED = re.compile(r"\?(?=[^?]*signature=)[^?]*$", re.IGNORECASE)


def _unsigned(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _unsigned(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_unsigned(item) for item in value]
    if isinstance(value, str):
        return _SIGNED.sub("?<signed>", value)
    return value


def code(error: dict) -> str:
    return error["extensions"]["code"]
