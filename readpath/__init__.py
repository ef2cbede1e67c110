"""The compiled read path: a query operation planned into one SQL statement, its response
written from the rows without executing fields one by one. See readpath/planner.py for how,
and readpath/declarations.py for what a domain declares next to its types."""

from readpath.declarations import (
    Column,
    Computed,
    Connection,
    Fallback,
    OneOf,
    Related,
    RootObject,
    Rows,
    declare,
    root,
)

__all__ = [
    "Column",
    "Computed",
    "Connection",
    "Fallback",
    "OneOf",
    "Related",
    "RootObject",
    "Rows",
    "declare",
    "root",
]
