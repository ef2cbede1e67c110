from __future__ import annotations

import uuid
from datetime import datetime

from sqlmodel import Field, SQLModel

from models.columns import id_field, timestamp


class Business(SQLModel, table=True):
    __tablename__ = "businesses"

    id: uuid.UUID = id_field()
    name: str = Field(max_length=200)
    # Public part of portal URLs; unique across all businesses.
    slug: str = Field(max_length=80, unique=True)
    created_at: datetime = timestamp(server_default=True)
