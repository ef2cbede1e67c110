"""Parsing a document: cached when small, off the event loop when large, and one operation.

graphql-core's lexer walks the text a character at a time in Python: a document near the
body limit (a megabyte of comment or string) takes a fifth of a second to parse, and that
must not stall every other request on the loop. Large documents are parsed in a worker
thread (not cached: the cache is for the repeated small documents of real clients).

A document with several operations must name the one to run (`operationName`); the
GraphQL spec refuses it otherwise, rather than running the first.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from graphql import GraphQLError, OperationDefinitionNode, parse
from strawberry.extensions import SchemaExtension
from strawberry.extensions.parser_cache import _get_parse_cache

PARSE_IN_THREAD_ABOVE = 32_768  # characters


class ParseDocument(SchemaExtension):
    def __init__(self, maxsize: int = 1000) -> None:
        super().__init__()
        # Strawberry's ParserCache's own LRU, shared by every request.
        self.cached_parse = _get_parse_cache(maxsize)

    async def on_parse(self) -> AsyncIterator[None]:
        context = self.execution_context
        if context.graphql_document is None and context.query:
            # Before the document is set, `operation_name` is only what the request gave.
            provided_name = context.operation_name
            if len(context.query) > PARSE_IN_THREAD_ABOVE:
                document = await asyncio.to_thread(parse, context.query, **context.parse_options)
            else:
                document = self.cached_parse(context.query, **context.parse_options)
            operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
            if len(operations) > 1 and provided_name is None:
                raise GraphQLError(
                    "Must provide operationName if the document contains several operations."
                )
            context.graphql_document = document
        yield
