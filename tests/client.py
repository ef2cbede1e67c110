"""The test's GraphQL client: one helper that fails on unexpected errors, one that expects them."""

from __future__ import annotations

import json
from typing import Any

import httpx


class GraphQLErrors(AssertionError):
    def __init__(self, errors: list[dict]) -> None:
        super().__init__(errors)
        self.errors = errors


class Api:
    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http = http

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
        return response.json()

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


def code(error: dict) -> str:
    return error["extensions"]["code"]
