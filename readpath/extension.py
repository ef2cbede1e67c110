"""Where the compiled read path meets Strawberry: before execution, a query operation that
the planner can answer gets its result from one statement, and Strawberry skips executing
its fields. Everything else — parsing, validation and its limits, error shaping — stays
Strawberry's, shared by both paths."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

from graphql import ExecutionResult
from strawberry.extensions import SchemaExtension

from readpath import planner
from readpath.declarations import Fallback

log = logging.getLogger(__name__)


class CompiledReads(SchemaExtension):
    async def on_execute(self) -> AsyncIterator[None]:
        execution = self.execution_context
        context = execution.context
        if getattr(context, "compiled_reads", False) and execution.graphql_document is not None:
            try:
                data = await planner.run(
                    context,
                    execution.schema._schema,
                    execution.graphql_document,
                    execution.query,
                    # As the request gave it: the view's repeats look plans up by that.
                    execution._provided_operation_name,
                    execution.variables,
                )
            except Fallback:
                pass
            except Exception:
                # A fault of the planner must never change an answer: execution answers, in
                # a fresh transaction (a failed statement aborts the one it ran in; a query
                # has written nothing to lose).
                log.exception("request %s: the compiled read path failed", context.request_id)
                await context.tx.discard()
            else:
                execution.result = ExecutionResult(data=data, errors=None)
                context.read_path = "compiled"
        yield
