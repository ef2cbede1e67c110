"""Column shapes every table repeats: ids, tenant keys, timestamps."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Column, DateTime, ForeignKey, Uuid, func
from sqlmodel import Field


def utcnow() -> datetime:
    return datetime.now(UTC)


def id_field() -> Any:
    return Field(default_factory=uuid.uuid4, primary_key=True)


def business_id_field() -> Any:
    """The tenant key. Indexed, and the column every row-level policy reads."""
    return Field(
        sa_column=Column(
            Uuid, ForeignKey("businesses.id", ondelete="CASCADE"), nullable=False, index=True
        )
    )


def reference(target: str, *, nullable: bool = False, index: bool = True) -> Any:
    return Field(
        default=None,
        sa_column=Column(
            Uuid, ForeignKey(target, ondelete="CASCADE"), nullable=nullable, index=index
        ),
    )


def timestamp(*, nullable: bool = False, server_default: bool = False) -> Any:
    return Field(
        default=None,
        sa_column=Column(
            DateTime(timezone=True),
            nullable=nullable,
            server_default=func.now() if server_default else None,
        ),
    )
